# Bi-KD on Fashion-MNIST: a small CIFAR-style ResNet-18 and a small ViT,
# each pre-trained alone to a plateau (tools/analysis/pretrain_members.py
# writes the checkpoints named below), continue training together on the
# same data. Train from the repository root with
# `python tools/train.py configs/bikd/fashion/cls_pair_fashion_mnist.py`.
_base_ = [
    '../../_base_/datasets/fashion_mnist.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
runner_type = 'BiKDRunner'
members_dir = '{{fileDirname}}/members'
pretrained_dir = 'work_dirs/fashion/cls/pretrained'
model = dict(
    type='BiKDClassifier',
    members=[
        dict(
            name='cnn',
            config=f'{members_dir}/resnet-cifar-small_fashion.py',
            checkpoint=f'{pretrained_dir}/cnn.pth',
        ),
        dict(
            name='vit',
            config=f'{members_dir}/vit-small_fashion.py',
            checkpoint=f'{pretrained_dir}/vit.pth',
        ),
    ],
)
# Continued training of converged members: one constant, small AdamW rate
# for both (1/20 of the ViT's pre-training peak).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
)
max_iters = 300
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters
)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        save_best=['cnn/accuracy/top1', 'vit/accuracy/top1'],
        rule='greater',
    ),
)
randomness = dict(seed=0)
