# A Mask2Former member for the digits data, trained alone: a stock mmseg
# config (tests pair it with another Mask2Former and with a UPerNet).
_base_ = [
    '../../../_base_/models/mask2former_r18-tiny.py',
    '../../../_base_/datasets/digits_seg.py',
    '../../../_base_/schedules/demo_iters.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(
    imports=['bikd_mm', 'mmdet.models'], allow_failed_imports=False
)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0, norm_type=2),
    paramwise_cfg=dict(
        custom_keys=dict(
            query_embed=dict(decay_mult=0.0),
            query_feat=dict(decay_mult=0.0),
            level_embed=dict(decay_mult=0.0),
        ),
        norm_decay_mult=0.0,
    ),
)
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=1200)
]
