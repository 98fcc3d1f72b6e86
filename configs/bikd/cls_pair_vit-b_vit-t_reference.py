# Bi-KD: ViT-B/16 + DeiT-Ti on ImageNet-1k with the reference's
# classification recipe (the released code's training script for its timm
# pairs, applied to the paper's ViT-B + ViT-T pair from the mmpretrain model
# zoo):
# - plain cross-entropy on hard labels: no label smoothing, no Mixup or
#   CutMix;
# - training images: random-resized crop to 224 (scale 0.08-1, aspect 3/4-
#   4/3, bilinear), horizontal flip, colour jitter 0.4 (brightness,
#   contrast, saturation); no RandAugment, no RandomErasing;
# - evaluation: shorter edge resized to 256 (bilinear), centre crop 224;
# - Adam, lr 1e-6, weight decay 1e-5 on every parameter (one group, as the
#   reference), constant rate, no warm-up, batch 128, 20 epochs;
# - ImageNet mean and std (each member's own preprocessor).
# The settings not listed here come from cls_pair_vit-b_vit-t.py.
_base_ = ['./cls_pair_vit-b_vit-t.py']
zoo = 'https://download.openmmlab.com/mmclassification/v0'
# Each member's head trains with plain cross-entropy.
plain_ce = {
    'model.head.loss': dict(
        _delete_=True, type='CrossEntropyLoss', loss_weight=1.0
    )
}
# One wrapper for every member (not the members' own groups).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-6, weight_decay=1e-5),
)
optim_wrapper_override = None
model = dict(
    members=[
        dict(
            name='vit_b',
            config='mmpretrain::vision_transformer/vit-base-p16_32xb128-mae_in1k.py',  # noqa: E501
            checkpoint=f'{zoo}/vit/vit-base-p16_pt-32xb128-mae_in1k_20220623-4c544545.pth',  # noqa: E501
            cfg_options=plain_ce,
        ),
        dict(
            name='vit_t',
            config='mmpretrain::deit/deit-tiny_4xb256_in1k.py',
            checkpoint=f'{zoo}/deit/deit-tiny_pt-4xb256_in1k_20220218-13b382a0.pth',  # noqa: E501
            cfg_options=plain_ce,
        ),
    ],
    batch_augments=None,
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.08, 1.0),
        aspect_ratio_range=(3.0 / 4.0, 4.0 / 3.0),
        interpolation='bilinear',
        backend='pillow',
    ),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        interpolation='bilinear',
        backend='pillow',
    ),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128, drop_last=True, dataset=dict(pipeline=train_pipeline)
)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
