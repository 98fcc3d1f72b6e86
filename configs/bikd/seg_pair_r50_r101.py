# Bi-KD within one backbone family: UPerNet-R50 + UPerNet-R101 on ADE20K,
# model-zoo checkpoints, with the fine-tuning settings of
# seg_pair_r50_swin.py (AdamW, lr 1e-6, weight decay 1e-5, batch 4, poly
# decay to 0 over 80k iterations, teachers per pixel).
_base_ = ['./seg_pair_r50_swin.py']
model = dict(
    members=[
        dict(
            name='r50',
            config='mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
            checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/upernet/upernet_r50_512x512_160k_ade20k/upernet_r50_512x512_160k_ade20k_20200615_184328-8534de8d.pth',  # noqa: E501
        ),
        dict(
            name='r101',
            config='mmseg::upernet/upernet_r101_4xb4-160k_ade20k-512x512.py',
            checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/upernet/upernet_r101_512x512_160k_ade20k/upernet_r101_512x512_160k_ade20k_20200615_161951-91b32684.pth',  # noqa: E501
        ),
    ]
)
# Both stock wrappers are SGD: both members train with AdamW instead.
optim_wrapper_override = dict(
    _delete_=True,
    r50=dict(
        optimizer=dict(_delete_=True, type='AdamW', lr=1e-6, weight_decay=1e-5)
    ),
    r101=dict(
        optimizer=dict(_delete_=True, type='AdamW', lr=1e-6, weight_decay=1e-5)
    ),
)
default_hooks = dict(
    checkpoint=dict(save_best=['r50/mIoU', 'r101/mIoU'], rule='greater')
)
