# The cheap option, a bikd_mm design: an mmpretrain ResNet-18 (ImageNet
# weights of the OpenMMLab model zoo) applied to every frame, + bikd_mm's
# TMFIDecoder for time.
r18_in1k = (
    'https://download.openmmlab.com/mmclassification/v0/resnet/'
    'resnet18_8xb32_in1k_20210831-fbbb1da6.pth'
)
model = dict(
    type='VideoSaliencyModel',
    backbone=dict(
        type='FrameWiseBackbone',
        backbone=dict(
            type='ResNet',
            depth=18,
            out_indices=(0, 1, 2, 3),
            init_cfg=dict(
                type='Pretrained', checkpoint=r18_in1k, prefix='backbone.'
            ),
        ),
        out_channels=(64, 128, 256, 512),
    ),
    decoder=dict(
        type='TMFIDecoder',
        in_channels=(64, 128, 256, 512),
        channels=128,
        head_channels=(64, 32, 16),
        # 32 frames: 4 after the lateral convolutions, 1 after the heads.
        lateral_temporal_stride=8,
        head_temporal_strides=(2, 2, 1),
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
