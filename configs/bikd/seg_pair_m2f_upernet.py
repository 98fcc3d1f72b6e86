# Bi-KD across model families: Mask2Former-R50 (mask classification) +
# UPerNet-R50 (per-pixel logits) on ADE20K, from the mmseg model zoo. The
# Mask2Former member takes part through its per-pixel class distribution
# (class probabilities times mask probabilities, summed over queries); the
# teacher is chosen per pixel by the cross-entropy of each member's
# distribution, a loss both families share on one scale.
# This pairing is bikd_mm's own (the reference pairs two Mask2Formers).
# Data (the stock Mask2Former train pipeline), runtime, batch size and
# schedule (160k iterations, poly decay to 0, no warm-up) as in
# seg_pair_m2f_r50_swin-t.py.
_base_ = ['./seg_pair_m2f_r50_swin-t.py']
zoo = 'https://download.openmmlab.com/mmsegmentation/v0.5'
model = dict(
    members=[
        dict(
            name='m2f',
            config='mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py',  # noqa: E501
            checkpoint=f'{zoo}/mask2former/mask2former_r50_8xb2-160k_ade20k-512x512/mask2former_r50_8xb2-160k_ade20k-512x512_20221204_000055-2d1f55f1.pth',  # noqa: E501
        ),
        dict(
            name='upernet',
            config='mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
            checkpoint=f'{zoo}/upernet/upernet_r50_512x512_160k_ade20k/upernet_r50_512x512_160k_ade20k_20200615_184328-8534de8d.pth',  # noqa: E501
        ),
    ],
    granularity='pixel',
    selection_loss='ce',
    kd_resolution='logits',
)
# Each member keeps its own optimizer wrapper at the fine-tuning rate of
# the reference Mask2Former pair. The Mask2Former member keeps its stock
# AdamW with gradient clipping, no-decay groups and the backbone at a
# tenth of the rate. The
# UPerNet member keeps its wrapper (no clipping, no parameter groups) but
# trains with AdamW (the reference pair's optimizer) instead of its stock
# SGD.
optim_wrapper_override = dict(
    _delete_=True,
    m2f=dict(
        optimizer=dict(lr=1e-6, weight_decay=1e-5),
        paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.1))),
    ),
    upernet=dict(
        optimizer=dict(_delete_=True, type='AdamW', lr=1e-6, weight_decay=1e-5)
    ),
)
default_hooks = dict(
    checkpoint=dict(save_best=['m2f/mIoU', 'upernet/mIoU'], rule='greater')
)
