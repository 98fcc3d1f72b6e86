# Three members: with N > 2, on each pixel the best member teaches all the
# others; a tie for the best teaches nobody there (the reference's rule for
# its three- and four-member classification runs). Fine-tuning settings of
# seg_pair_r50_swin.py (AdamW, lr 1e-6, weight decay 1e-5, batch 4, poly
# decay to 0 over 80k iterations).
_base_ = ['./seg_pair_r50_swin.py']
zoo = 'https://download.openmmlab.com/mmsegmentation/v0.5'
model = dict(
    members=[
        dict(
            name='r50',
            config='mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
            checkpoint=zoo
            + '/upernet/upernet_r50_512x512_160k_ade20k/upernet_r50_512x512_160k_ade20k_20200615_184328-8534de8d.pth',  # noqa: E501
        ),
        dict(
            name='r101',
            config='mmseg::upernet/upernet_r101_4xb4-160k_ade20k-512x512.py',
            checkpoint=zoo
            + '/upernet/upernet_r101_512x512_160k_ade20k/upernet_r101_512x512_160k_ade20k_20200615_161951-91b32684.pth',  # noqa: E501
        ),
        dict(
            name='swin',
            config='mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',  # noqa: E501
            checkpoint=zoo
            + '/swin/upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K/upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K_20210531_112542-e380ad3e.pth',  # noqa: E501
        ),
    ]
)
# The ResNets' stock SGD is replaced by AdamW; Swin keeps its AdamW and
# its no-decay groups.
optim_wrapper_override = dict(
    _delete_=True,
    r50=dict(
        optimizer=dict(_delete_=True, type='AdamW', lr=1e-6, weight_decay=1e-5)
    ),
    r101=dict(
        optimizer=dict(_delete_=True, type='AdamW', lr=1e-6, weight_decay=1e-5)
    ),
    swin=dict(optimizer=dict(lr=1e-6, weight_decay=1e-5)),
)
default_hooks = dict(
    checkpoint=dict(
        save_best=['r50/mIoU', 'r101/mIoU', 'swin/mIoU'], rule='greater'
    )
)
