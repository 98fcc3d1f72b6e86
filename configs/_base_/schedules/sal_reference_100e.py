# Training protocol of the Bi-KD reference saliency runs
# (src/train_sal_bi_kd.py and train_sal_tri_kd.py of Syd-J/Bi-KD): every
# member fine-tuned by Adam at lr 1e-6, weight decay 1e-5 (coupled, as in
# torch.optim.Adam), constant rate, 100 epochs, validation after every
# epoch, and each member's best checkpoint by its validation loss
# (KLD - CC, lower is better). Pair configs name their members in
# ``save_best``.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-6, weight_decay=1e-5),
)
max_epochs = 100
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=max_epochs)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1
)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=5),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # The last epoch (to resume) and the best one per member.
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=1,
        rule='less',
    ),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
randomness = dict(seed=0)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
