# ViNet-S (Jain et al., 2024) as released: S3D + grouped decoder (root
# grouping, bilinear upsampling), 32 consecutive frames ending at the target
# frame, 224x384, ImageNet mean/std (the clip the reference's three-member
# training gives it). Its state dict is the layout of the released
# checkpoints (vinet_rootgrouped_32_{DHF1K,Hollywood2}.pt), which load as
# they are through a member's ``checkpoint=``.
model = dict(
    type='ViNetS',
    loss=dict(type='SaliencyKLDCCLoss', kld_weight=1.0, cc_weight=-1.0),
    data_preprocessor=dict(
        type='VideoSaliencyDataPreprocessor',
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        size=(224, 384),
    ),
)
