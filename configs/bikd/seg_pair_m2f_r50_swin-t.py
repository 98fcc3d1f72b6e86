# Bi-KD: Mask2Former-R50 + Mask2Former-Swin-T on ADE20K, from the mmseg
# model zoo, with the reference fine-tuning settings (AdamW, lr 1e-6,
# wd 1e-5, batch 4, poly schedule with a linear warm-up, backbone lr x 0.1)
# and its teacher selection: per image, the member with the lower total
# task loss (class + mask + Dice over all decoder layers) teaches.
_base_ = [
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(
    imports=['bikd_mm', 'mmdet.models'], allow_failed_imports=False
)
runner_type = 'BiKDRunner'
zoo = 'https://download.openmmlab.com/mmsegmentation/v0.5/mask2former'
model = dict(
    type='BiKDSegmentor',
    members=[
        dict(
            name='r50',
            config='mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py',  # noqa: E501
            checkpoint=f'{zoo}/mask2former_r50_8xb2-160k_ade20k-512x512/mask2former_r50_8xb2-160k_ade20k-512x512_20221204_000055-2d1f55f1.pth',  # noqa: E501
        ),
        dict(
            name='swin',
            config='mmseg::mask2former/mask2former_swin-t_8xb2-160k_ade20k-512x512.py',  # noqa: E501
            checkpoint=f'{zoo}/mask2former_swin-t_8xb2-160k_ade20k-512x512/mask2former_swin-t_8xb2-160k_ade20k-512x512_20221203_234230-7d64e5dd.pth',  # noqa: E501
        ),
    ],
    granularity='image',
    selection_loss='task_loss',
    kd_resolution='logits',
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-6, weight_decay=1e-5),
    paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.1))),
)
warmup_iters = 1500
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        by_epoch=False,
        begin=0,
        end=warmup_iters,
    ),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=warmup_iters,
        end=80000,
        by_epoch=False,
    ),
]
train_dataloader = dict(batch_size=4)
default_hooks = dict(
    checkpoint=dict(save_best=['r50/mIoU', 'swin/mIoU'], rule='greater')
)
