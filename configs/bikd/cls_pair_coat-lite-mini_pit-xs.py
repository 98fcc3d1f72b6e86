# Bi-KD: CoaT-Lite Mini + PiT-XS on ImageNet-1k, timm models wrapped as
# mmpretrain TimmClassifier members: the reference's classification pair
# (Syd-J/Bi-KD, scripts/train_bi_kd.sh: teacher CoaT-lite-mini, student
# PiT-XS, timm weights coat_lite_mini.in1k and pit_xs_224.in1k) with its
# settings: Adam, lr 1e-6 and weight decay 1e-5 for both, batch 128, 20
# epochs, constant rate, plain cross-entropy, the KD term averaged over
# the batch, no temperature.
#
# Data as the reference's timm loader (create_loader with its defaults,
# not the models' own data configs): training RandomResizedCrop 224
# (scale 0.08-1, bilinear), horizontal flip, colour jitter 0.4; testing
# resize of the short side to 256 (crop_pct 0.875) and a 224 centre crop;
# ImageNet mean and std for both members.
#
# Weights: with pretrained=True each member is built by timm with its
# pretrained weights (downloaded once from the Hugging Face hub into its
# cache). Offline, set pretrained=False and give the member a checkpoint:
# a timm state dict (.pth or .safetensors), loaded with safe unpickling.
# Members are listed in the reference's order (teacher, student): on a tie
# (equal probability of the true class) the last member teaches, as there.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
runner_type = 'BiKDRunner'
imagenet = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
model = dict(
    type='BiKDClassifier',
    members=[
        dict(
            name='coat_lite_mini',
            model=dict(
                type='TimmClassifier',
                model_name='coat_lite_mini.in1k',
                pretrained=True,
                data_preprocessor=imagenet,
            ),
        ),
        dict(
            name='pit_xs',
            model=dict(
                type='TimmClassifier',
                model_name='pit_xs_224.in1k',
                pretrained=True,
                data_preprocessor=imagenet,
            ),
        ),
    ],
    batch_augments=None,
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-6, weight_decay=1e-5),
)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=2,
        save_best=['coat_lite_mini/accuracy/top1', 'pit_xs/accuracy/top1'],
        rule='greater',
    )
)
