# Member "cnn" of the Fashion-MNIST pair, trained alone: a stock mmpretrain
# config. About 2 epochs (1,900 iterations of 64), SGD with a cosine rate.
_base_ = [
    '../../../_base_/models/resnet-cifar-small_fashion.py',
    '../../../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4),
)
max_iters = 1900
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=190
)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters),
)
randomness = dict(seed=0)
