# Member "mit" of the Fashion scenes pair, trained alone: stock mmseg
# SegFormer on a Mix Transformer of MiT-b0's depths (2-2-2-2) and heads at
# half its width (embed 16: stages of 16, 32, 80 and 128 channels) with
# a 64-channel all-MLP head, 0.88M parameters (a 3.5 MB checkpoint), for
# 96x96 scenes. Plain BN in the head (the base's SyncBN needs a process
# group).
_base_ = [
    'mmseg::_base_/models/segformer_mit-b0.py',
    '../../../_base_/datasets/fashion_scenes.py',
    '../../../_base_/schedules/fashion_scenes_iters.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=(96, 96))
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    backbone=dict(embed_dims=16),
    decode_head=dict(
        in_channels=[16, 32, 80, 128],
        channels=64,
        num_classes=11,
        norm_cfg=norm_cfg,
    ),
)
# Trained from scratch, so one rate for backbone and head; no decay on
# the norms and the positional convolutions, as mmseg's SegFormer configs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01
    ),
    paramwise_cfg=dict(
        custom_keys=dict(
            pos_block=dict(decay_mult=0.0),
            norm=dict(decay_mult=0.0),
        )
    ),
)
