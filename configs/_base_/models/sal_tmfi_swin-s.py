# bikd_mm's Video Swin-S saliency model: Video Swin-S (Kinetics-400 weights
# of the Video Swin release, with patch norm) + bikd_mm's TMFIDecoder (a
# decoder in the manner of TMFI-Net, with its own layout), 32-frame clips at
# 224x384. Not the published TMFI-Net: for that, see sal_tmfi-net.py.
swin_s_k400 = (
    'https://github.com/SwinTransformer/storage/releases/download/v1.0.4/'
    'swin_small_patch244_window877_kinetics400_1k.pth'
)
model = dict(
    type='VideoSaliencyModel',
    backbone=dict(
        type='VideoSwinTransformer',
        arch='small',
        patch_size=(2, 4, 4),
        window_size=(8, 7, 7),
        drop_path_rate=0.2,
        patch_norm=True,
        init_cfg=dict(type='Pretrained', checkpoint=swin_s_k400),
    ),
    decoder=dict(
        type='TMFIDecoder',
        in_channels=(96, 192, 384, 768),
        channels=192,
        head_channels=(96, 48, 24),
        lateral_temporal_stride=2,
        head_temporal_strides=(2, 2, 2),
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
