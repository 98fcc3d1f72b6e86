# TMFI-Net (Zhou et al., 2023) as released: Video Swin-S + TMFI-Net decoder,
# 32 consecutive frames ending at the target frame, 224x384, ImageNet
# mean/std. Its state dict is the layout of the released checkpoints
# (best_VSTNet_{DHF1K,Hollywood2,UCF}.pth), which load as they are through
# a member's ``checkpoint=``.
model = dict(
    type='TMFINet',
    loss=dict(type='SaliencyKLDCCLoss', kld_weight=1.0, cc_weight=-1.0),
    data_preprocessor=dict(
        type='VideoSaliencyDataPreprocessor',
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        size=(224, 384),
    ),
)
