# Bi-KD on the Fashion scenes: a CNN (UPerNet, ResNet-18 shape at quarter
# width) and a transformer (SegFormer, a Mix Transformer at half MiT-b0's
# width), each pre-trained alone with its member config, fine-tuned
# together.
# Pre-train the members (the checkpoints named below), e.g.
# `python tools/train.py configs/bikd/fashion/members/<member>.py
# --work-dir work_dirs/fashion/seg/<name>` and copy the best checkpoint
# to work_dirs/fashion/seg/pretrained/<name>.pth; check how much they
# complement each other with `python tools/analysis/complementarity.py
# configs/bikd/fashion/seg_pair_fashion_scenes.py --out
# work_dirs/fashion/seg/complementarity`; then train from the repository
# root with `python tools/train.py
# configs/bikd/fashion/seg_pair_fashion_scenes.py`.
_base_ = [
    '../../_base_/datasets/fashion_scenes.py',
    '../../_base_/schedules/fashion_scenes_iters.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
runner_type = 'BiKDRunner'
members_dir = '{{fileDirname}}/members'
pretrained_dir = 'work_dirs/fashion/seg/pretrained'
model = dict(
    type='BiKDSegmentor',
    members=[
        dict(
            name='cnn',
            config=f'{members_dir}/upernet_r18-w16_fashion-scenes.py',
            checkpoint=f'{pretrained_dir}/cnn.pth',
        ),
        dict(
            name='mit',
            config=f'{members_dir}/segformer_mit-e16-h64_fashion-scenes.py',
            checkpoint=f'{pretrained_dir}/mit.pth',
        ),
    ],
    granularity='pixel',
    kd_resolution='logits',
)
# Fine-tuning: one AdamW setting for both members, a tenth of the CNN's
# pre-training rate and a fifth of the transformer's, without warm-up.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-5),
)
max_iters = 2000
val_interval = 500
param_scheduler = [
    dict(type='PolyLR', power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval
)
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=val_interval,
        max_keep_ckpts=1,
        save_best=['cnn/mIoU', 'mit/mIoU'],
        rule='greater',
    ),
)
custom_hooks = [dict(type='TeacherMapVisualizationHook', interval=500)]
