# Member "swin_cw": the demo's tiny Swin UPerNet trained alone with a
# class-weighted cross-entropy. Background is about 94 % of the labelled
# pixels of the digits scenes (each digit about 0.5 %); with a plain
# cross-entropy this member predicts background everywhere after its
# 1200 pre-training steps, with background weighted 0.1 it learns the digits.
_base_ = ['./upernet_swin-tiny_digits.py']
class_weight = [0.1] + [1.0] * 10
model = dict(
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='ClassWeightedCrossEntropyLoss',
            class_weight=class_weight,
            loss_weight=1.0,
        )
    ),
    auxiliary_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='ClassWeightedCrossEntropyLoss',
            class_weight=class_weight,
            loss_weight=0.4,
        )
    ),
)
# Reproducible pre-training (the pair sets its own seed when fine-tuning).
randomness = dict(seed=0)
