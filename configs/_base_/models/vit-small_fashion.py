# A 6-layer ViT with 96-dim tokens and 4x4 patches (49 tokens) for 28x28
# one-channel images: stock mmpretrain components.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch=dict(
            embed_dims=96,
            num_layers=6,
            num_heads=4,
            feedforward_channels=192,
        ),
        img_size=28,
        patch_size=4,
        in_channels=1,
        drop_rate=0.0,
    ),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=10,
        in_channels=96,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, loss_weight=1.0
        ),
    ),
)
