# Bi-KD for video saliency on DHF1K with bikd_mm's own lighter members: a
# Video Swin-S + TMFIDecoder model and an S3D + ViNetDecoder model, both
# bikd_mm designs borrowing ideas of TMFI-Net and ViNet (they are not the
# published models and do not load their checkpoints; for those, see
# sal_pair_tmfi-net_vinet-a_dhf1k.py). Both members read the same 32-frame
# clips at 224x384; Adam, lr 1e-6, weight decay 1e-5, batch 4, KLD - CC task
# loss, the member with the lower KLD - CC teaches each clip, with random
# horizontal flips and an iteration schedule of bikd_mm's choosing.
#
# The members start from their backbones' Kinetics-400 weights (see their
# configs), so their decoders start untrained: give each member a
# ``checkpoint=`` of a saliency model trained first (a VideoSaliencyModel
# state dict) before fine-tuning them together at this rate.
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
runner_type = 'BiKDRunner'

clip_len = 32
input_size = (224, 384)
models_dir = '{{fileDirname}}/../_base_/models'
model = dict(
    type='BiKDSaliency',
    members=[
        dict(name='tmfi', config=f'{models_dir}/sal_tmfi_swin-s.py'),
        dict(name='vinet', config=f'{models_dir}/sal_vinet_s3d.py'),
    ],
    granularity='sample',
    kd_weight=1.0,
    selection_loss=dict(type='SaliencyKLDCCLoss'),
)

# Data: extracted frames, DHF1K layout (see DHF1KDataset).
dataset_type = 'DHF1KDataset'
data_root = 'data/DHF1K'
train_split, val_split = 'train', 'val'
train_pipeline = [
    dict(type='LoadSaliencyClip'),
    dict(type='ResizeClip', size=input_size),
    dict(type='RandomFlipClip', prob=0.5),
    dict(type='PackSaliencyInputs'),
]
# Maps stay at their own size: predictions are resized to them.
val_pipeline = [
    dict(type='LoadSaliencyClip'),
    dict(type='ResizeClip', size=input_size, resize_gt=False),
    dict(type='PackSaliencyInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=train_split,
        clip_len=clip_len,
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=val_split,
        clip_len=clip_len,
        sampling='clip',
        # Sparse validation clips: every 128th frame.
        clip_interval=4 * clip_len,
        # Shuffled-AUC negatives: fixations of 10 frames of other videos.
        other_fixations=10,
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
test_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=val_split,
        clip_len=clip_len,
        sampling='sliding',
        other_fixations=10,
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
# Evaluated once per member (BiKDRunner wraps it in MemberMetric).
val_evaluator = dict(type='SaliencyMetric')
test_evaluator = val_evaluator

# One Adam setting for both members (the paper's fine-tuning rate).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-6, weight_decay=1e-5),
)
max_iters = 40000
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000
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
        interval=4000,
        save_best=['tmfi/CC', 'vinet/CC'],
        rule='greater',
    ),
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
