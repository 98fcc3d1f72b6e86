# A short iteration-based schedule for CPU classification demos, on the
# stock mmpretrain runtime (override max_iters).
_base_ = ['mmpretrain::_base_/default_runtime.py']
max_iters = 300
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters
)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters),
)
randomness = dict(seed=0)
