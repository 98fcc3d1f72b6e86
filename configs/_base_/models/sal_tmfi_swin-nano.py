# A tiny bikd_mm Video Swin + TMFIDecoder model for CPU demos and tests: a
# 4-stage Video Swin with 16 channels, one block per stage, a narrow decoder.
model = dict(
    type='VideoSaliencyModel',
    backbone=dict(
        type='VideoSwinTransformer',
        arch=dict(embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4)),
        patch_size=(2, 4, 4),
        window_size=(2, 4, 4),
        drop_path_rate=0.0,
    ),
    decoder=dict(
        type='TMFIDecoder',
        in_channels=(16, 32, 64, 128),
        channels=16,
        head_channels=(16, 8, 8),
        lateral_temporal_stride=2,
        head_temporal_strides=(2, 1, 1),
    ),
    loss=dict(type='SaliencyKLDCCLoss'),
    data_preprocessor=dict(type='VideoSaliencyDataPreprocessor'),
)
