# Bi-KD demo: the two classification demo members, each pre-trained alone,
# fine-tuned together on the digits. `make demo` (or
# `python tools/demo/run_demo.py cls --pretrain-only`) writes the member
# checkpoints named below; train from the repository root with
# `python tools/train.py configs/bikd/demo/cls_pair_digits.py`.
_base_ = [
    '../../_base_/datasets/digits_cls_demo.py',
    '../../_base_/schedules/demo_iters_cls.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
runner_type = 'BiKDRunner'
members_dir = '{{fileDirname}}/members'
pretrained_dir = 'work_dirs/demo/cls/pretrained'
model = dict(
    type='BiKDClassifier',
    members=[
        dict(
            name='cnn',
            config=f'{members_dir}/resnet-tiny_digits.py',
            checkpoint=f'{pretrained_dir}/cnn.pth',
        ),
        dict(
            name='vit',
            config=f'{members_dir}/vit-tiny_digits.py',
            checkpoint=f'{pretrained_dir}/vit.pth',
        ),
    ],
)
# Fine-tuning: one AdamW setting for both members.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-5),
)
max_iters = 150
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters
)
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        save_best=['cnn/accuracy/top1', 'vit/accuracy/top1'],
        rule='greater',
    ),
)
