# A tiny bikd_mm S3D + ViNetDecoder model for CPU demos and tests: S3D at
# 1/8 of its widths and a narrow decoder, with its own normalisation (to
# [0, 1]) and input size.
model = dict(
    type='VideoSaliencyModel',
    # Trained from scratch: BatchNorm statistics need a usual momentum.
    backbone=dict(type='S3D', width_ratio=0.125, bn_momentum=0.1),
    decoder=dict(
        type='ViNetDecoder',
        in_channels=(24, 60, 104, 128),
        head_channels=(16, 8, 8),
        temporal_strides=(1, 3, 5, 5, 1, 1),
    ),
    loss=dict(type='SaliencyKLDCCLoss'),
    data_preprocessor=dict(
        type='VideoSaliencyDataPreprocessor',
        mean=(0.0, 0.0, 0.0),
        std=(255.0, 255.0, 255.0),
        size=(64, 96),
    ),
)
