# bikd_mm's S3D saliency model: S3D (the Kinetics-400 weights used by
# TASED-Net and ViNet, S3D_kinetics400.pt, to be downloaded from the S3D or
# ViNet repository and placed under checkpoints/) + bikd_mm's ViNetDecoder
# (a decoder in the manner of ViNet), 32-frame clips at 224x384. Not the
# published ViNet-S: for that, see sal_vinet-s.py.
s3d_k400 = 'checkpoints/S3D_kinetics400.pt'
model = dict(
    type='VideoSaliencyModel',
    backbone=dict(
        type='S3D',
        init_cfg=dict(type='Pretrained', checkpoint=s3d_k400),
    ),
    decoder=dict(
        type='ViNetDecoder',
        in_channels=(192, 480, 832, 1024),
        head_channels=(64, 32, 32),
        temporal_strides=(1, 3, 5, 5, 2, 2),
        activation='sigmoid',
    ),
    loss=dict(type='SaliencyKLDCCLoss', kld_weight=1.0, cc_weight=-1.0),
    data_preprocessor=dict(
        type='VideoSaliencyDataPreprocessor',
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        size=(224, 384),
    ),
)
