# Iteration-based schedule for training a member alone on the Fashion
# scenes: a short linear warm-up, then a poly decay. 8,000 iterations of
# batch 8 are 6.4 passes over the 10,000 train scenes; size it with
# --cfg-options train_cfg.max_iters=N param_scheduler.1.end=N. Validated
# every 800 iterations: 10 points of the curve, the last 20% flat or not.
max_iters = 8000
val_interval = 800
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=False,
        begin=0,
        end=200,
    ),
    dict(
        type='PolyLR',
        eta_min=1e-6,
        power=0.9,
        by_epoch=False,
        begin=200,
        end=max_iters,
    ),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval
)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=val_interval,
        max_keep_ckpts=1,
        save_best='mIoU',
        rule='greater',
    ),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
)
randomness = dict(seed=0)
