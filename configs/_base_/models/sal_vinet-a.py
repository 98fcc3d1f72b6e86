# ViNet-A (Jain et al., 2024) as released: SlowFast-R50 + neck + grouped
# decoder (32 groups, channel shuffle, skips), 32 frames at 256x456, mean
# 0.45 / std 0.225 per channel. Its state dict is the layout of the released
# checkpoints (ViNetA_{DHF1K,Hollywood2}_32g.pt), which load as they are
# through a member's ``checkpoint=``.
model = dict(
    type='ViNetA',
    loss=dict(type='SaliencyKLDCCLoss', kld_weight=1.0, cc_weight=-1.0),
    data_preprocessor=dict(
        type='VideoSaliencyDataPreprocessor',
        mean=(114.75, 114.75, 114.75),
        std=(57.375, 57.375, 57.375),
        size=(256, 456),
    ),
)
