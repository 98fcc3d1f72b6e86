# Bi-KD demo: the two demo members, each pre-trained alone, fine-tuned
# together on the digits segmentation data. `make demo` (or
# `python tools/demo/run_demo.py seg --pretrain-only`) writes the member
# checkpoints named below; train from the repository root with
# `python tools/train.py configs/bikd/demo/seg_pair_digits.py`.
_base_ = [
    '../../_base_/datasets/digits_seg.py',
    '../../_base_/schedules/demo_iters.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
runner_type = 'BiKDRunner'
members_dir = '{{fileDirname}}/members'
pretrained_dir = 'work_dirs/demo/seg/pretrained'
model = dict(
    type='BiKDSegmentor',
    members=[
        dict(
            name='cnn',
            config=f'{members_dir}/upernet_r18-tiny_digits.py',
            checkpoint=f'{pretrained_dir}/cnn.pth',
        ),
        dict(
            name='swin',
            config=f'{members_dir}/upernet_swin-tiny_digits.py',
            checkpoint=f'{pretrained_dir}/swin.pth',
        ),
    ],
    granularity='pixel',
    kd_resolution='logits',
)
# Fine-tuning: one AdamW setting for both members.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-5),
)
max_iters = 150
param_scheduler = [
    dict(type='PolyLR', power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters
)
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        save_best=['cnn/mIoU', 'swin/mIoU'],
        rule='greater',
    ),
)
custom_hooks = [dict(type='TeacherMapVisualizationHook', interval=50)]
