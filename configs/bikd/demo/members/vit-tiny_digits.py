# Member "vit" of the classification demo pair, trained alone: a stock
# mmpretrain config.
_base_ = [
    '../../../_base_/models/vit-tiny_cls.py',
    '../../../_base_/datasets/digits_cls.py',
    '../../../_base_/schedules/demo_iters_cls.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
)
