# Bi-KD with three of bikd_mm's own lighter video saliency members on DHF1K:
# Video Swin-S + TMFIDecoder, S3D + ViNetDecoder and a frame-wise ResNet-18
# from the OpenMMLab model zoo with a temporal decoder (not the published
# models; for those, see sal_triple_tmfi-net_vinet-s_vinet-a_dhf1k.py).
# Each clip is taught by the member with the lowest KLD - CC; ties among the
# best teach nobody.
_base_ = ['./sal_pair_tmfi_vinet_dhf1k.py']
model = dict(
    members=[
        dict(
            name='tmfi',
            config='{{fileDirname}}/../_base_/models/sal_tmfi_swin-s.py',
        ),
        dict(
            name='vinet',
            config='{{fileDirname}}/../_base_/models/sal_vinet_s3d.py',
        ),
        dict(
            name='r18',
            config='{{fileDirname}}/../_base_/models/sal_framewise_r18.py',
        ),
    ],
)
default_hooks = dict(
    checkpoint=dict(save_best=['tmfi/CC', 'vinet/CC', 'r18/CC'])
)
