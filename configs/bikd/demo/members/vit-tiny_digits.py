# Member "vit" of the classification demo pair, trained alone: a stock
# mmpretrain config.
_base_ = [
    '../../../_base_/models/vit-tiny_cls.py',
    '../../../_base_/datasets/digits_cls_demo.py',
    '../../../_base_/schedules/demo_iters_cls.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
)
