# Member "swin" of the demo pair, trained alone: a stock mmseg config.
_base_ = [
    '../../../_base_/models/upernet_swin-tiny.py',
    '../../../_base_/datasets/digits_seg.py',
    '../../../_base_/schedules/demo_iters.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.01
    ),
    paramwise_cfg=dict(
        custom_keys=dict(
            absolute_pos_embed=dict(decay_mult=0.0),
            relative_position_bias_table=dict(decay_mult=0.0),
            norm=dict(decay_mult=0.0),
        )
    ),
)
# Constant rate: these tiny members only start to tell digits apart after
# about 1000 steps at full rate (tools/demo/run_demo.py trains 1200).
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=1200)
]
