# Bi-KD: ViT-B/16 + DeiT-Ti on ImageNet-1k, from the mmpretrain model zoo:
# the stock-recipe variant. The data pipeline and losses are the members'
# own mmpretrain recipe (RandAugment, RandomErasing, Mixup 0.8 and CutMix
# 1.0 mixed once per batch for the pair, label smoothing 0.1) and each
# member's own parameter groups (no weight decay on norms, biases, position
# embeddings and the class token; DeiT's gradient clipping at norm 5); the
# optimizer settings are the reference's (Adam, lr 1e-6, weight decay
# 1e-5, constant rate, no warm-up, batch 128, 20 epochs).
# cls_pair_vit-b_vit-t_reference.py trains with the reference's recipe
# throughout (plain cross-entropy, crop + flip + colour jitter, no mixing).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
runner_type = 'BiKDRunner'
zoo = 'https://download.openmmlab.com/mmclassification/v0'
model = dict(
    type='BiKDClassifier',
    members=[
        dict(
            name='vit_b',
            config='mmpretrain::vision_transformer/vit-base-p16_32xb128-mae_in1k.py',  # noqa: E501
            checkpoint=f'{zoo}/vit/vit-base-p16_pt-32xb128-mae_in1k_20220623-4c544545.pth',  # noqa: E501
        ),
        dict(
            name='vit_t',
            config='mmpretrain::deit/deit-tiny_4xb256_in1k.py',
            checkpoint=f'{zoo}/deit/deit-tiny_pt-4xb256_in1k_20220218-13b382a0.pth',  # noqa: E501
        ),
    ],
    # Both member configs train with Mixup and CutMix; the pair mixes each
    # batch once, with the first member's settings (None: no mixing).
    batch_augments='first',
)
# Each member keeps its own wrapper (parameter groups, clipping) ...
optim_wrapper = None
# ... with the reference's optimizer instead of its stock one.
optim_wrapper_override = dict(
    optimizer=dict(_delete_=True, type='Adam', lr=1e-6, weight_decay=1e-5)
)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
train_dataloader = dict(batch_size=128)
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=2,
        save_best=['vit_b/accuracy/top1', 'vit_t/accuracy/top1'],
        rule='greater',
    )
)
