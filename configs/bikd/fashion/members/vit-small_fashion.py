# Member "vit" of the Fashion-MNIST pair, trained alone: a stock mmpretrain
# config. About 3 epochs (2,800 iterations of 64), AdamW with a warm-up and
# a cosine rate.
_base_ = [
    '../../../_base_/models/vit-small_fashion.py',
    '../../../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
)
max_iters = 2800
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=200, end=max_iters),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=280
)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters),
)
randomness = dict(seed=0)
