# Data, schedule and runtime of the video saliency demo: the synthetic
# DHF1K-layout videos of tools/saliency/make_synthetic.py (train videos
# 0001-, val videos 0601-), 8-frame clips at 64x112, a short CPU schedule.
default_scope = 'bikd_mm'
custom_imports = dict(
    imports=[
        'bikd_mm.models.saliency',
        'bikd_mm.datasets.saliency',
        'bikd_mm.evaluation.saliency',
        'bikd_mm.evaluation.metrics',
        'bikd_mm.engine',
    ],
    allow_failed_imports=False,
)
clip_len = 8
input_size = (64, 112)
data_root = 'work_dirs/demo/sal/data'
train_pipeline = [
    dict(type='LoadSaliencyClip'),
    dict(type='ResizeClip', size=input_size),
    dict(type='RandomFlipClip', prob=0.5),
    dict(type='PackSaliencyInputs'),
]
val_pipeline = [
    dict(type='LoadSaliencyClip'),
    dict(type='ResizeClip', size=input_size, resize_gt=False),
    dict(type='PackSaliencyInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='DHF1KDataset',
        data_root=data_root,
        split='train',
        clip_len=clip_len,
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='DHF1KDataset',
        data_root=data_root,
        split='val',
        clip_len=clip_len,
        sampling='sliding',
        clip_interval=2,
        other_fixations=10,
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='SaliencyMetric', sauc_splits=10)
test_evaluator = val_evaluator

max_iters = 60
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters
)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
