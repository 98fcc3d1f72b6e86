# Bi-KD: UPerNet-R50 + UPerNet-Swin-T on ADE20K, from the mmseg model zoo.
#
# The reference has no per-pixel-head segmentation pair (its one
# segmentation pair is Mask2Former R50 + Swin-T, see
# seg_pair_m2f_r50_swin-t.py); this pair fine-tunes both members with that
# pair's reference rates: AdamW, lr 1e-6, weight decay 1e-5, batch 4, poly
# decay (power 0.9) to 0 with no warm-up. It runs 80k iterations (the
# reference Mask2Former pair runs 160k) and selects teachers per pixel
# (bikd_mm's extension; granularity='image' selects per image).
#
# Each member keeps its own optimizer wrapper and parameter groups (for
# Swin: no weight decay on norms and position tables); the override below
# sets the rates and switches the R50 member from its stock SGD to AdamW.
_base_ = [
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    # Loop (80k iterations), validation every 8k and the hooks; its SGD
    # and its PolyLR (eta_min=1e-4, above the fine-tuning rate) are
    # replaced below.
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
runner_type = 'BiKDRunner'
zoo = 'https://download.openmmlab.com/mmsegmentation/v0.5'
model = dict(
    type='BiKDSegmentor',
    members=[
        dict(
            name='r50',
            config='mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
            checkpoint=f'{zoo}/upernet/upernet_r50_512x512_160k_ade20k/upernet_r50_512x512_160k_ade20k_20200615_184328-8534de8d.pth',  # noqa: E501
        ),
        dict(
            name='swin',
            config='mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',  # noqa: E501
            checkpoint=f'{zoo}/swin/upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K/upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K_20210531_112542-e380ad3e.pth',  # noqa: E501
        ),
    ],
    granularity='pixel',
    kd_resolution='logits',
)
# Each member keeps its own wrapper (not the schedule base's SGD) ...
optim_wrapper = None
optimizer = None  # the schedule base's, not used by any member
# ... at the fine-tuning rates. Swin's stock wrapper is AdamW with its
# no-decay groups: only the rates change. UPerNet-R50's stock SGD would
# barely move at 1e-6: it trains with AdamW instead.
optim_wrapper_override = dict(
    r50=dict(
        optimizer=dict(_delete_=True, type='AdamW', lr=1e-6, weight_decay=1e-5)
    ),
    swin=dict(optimizer=dict(lr=1e-6, weight_decay=1e-5)),
)
max_iters = 80000
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False,
    )
]
train_cfg = dict(max_iters=max_iters)
train_dataloader = dict(batch_size=4)
default_hooks = dict(
    checkpoint=dict(save_best=['r50/mIoU', 'swin/mIoU'], rule='greater')
)
