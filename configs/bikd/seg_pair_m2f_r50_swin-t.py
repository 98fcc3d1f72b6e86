# Bi-KD: Mask2Former-R50 + Mask2Former-Swin-T on ADE20K, from the mmseg
# model zoo, with the reference fine-tuning settings (AdamW, lr 1e-6,
# wd 1e-5, batch 4, poly schedule with a linear warm-up, backbone lr x 0.1)
# and its teacher selection: per image, the member with the lower total
# task loss (class + mask + Dice over all decoder layers) teaches.
#
# Everything else is stock Mask2Former. Data, runtime and hooks come from
# the R50 member's config (the Swin-T config inherits the same data): its
# train pipeline with multi-scale resize, 512 x 512 crops, flips and
# photometric distortion. Each member keeps its own optimizer wrapper
# (gradient clipping at norm 0.01, AdamW eps and betas, no weight decay on
# norms, queries and level embeddings, and for Swin on its position
# tables), with the reference rates merged in.
_base_ = ['mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py']
custom_imports = dict(
    imports=['bikd_mm', 'mmdet.models'], allow_failed_imports=False
)
runner_type = 'BiKDRunner'
zoo = 'https://download.openmmlab.com/mmsegmentation/v0.5/mask2former'
model = dict(
    _delete_=True,
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
# Not the R50 wrapper of the base for both: each member keeps its own ...
optim_wrapper = None
# ... with the reference rates merged in (the backbone's tenth of the rate
# is also the stock setting).
optim_wrapper_override = dict(
    optimizer=dict(lr=1e-6, weight_decay=1e-5),
    paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.1))),
)
optimizer = None  # the base's, not used by any member
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
train_cfg = dict(max_iters=80000, val_interval=8000)
train_dataloader = dict(batch_size=4)
default_hooks = dict(
    checkpoint=dict(
        interval=8000, save_best=['r50/mIoU', 'swin/mIoU'], rule='greater'
    )
)
