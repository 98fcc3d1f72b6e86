# Bi-KD: Mask2Former-R50 + Mask2Former-Swin-T on ADE20K, from the mmseg
# model zoo: the reference's segmentation pair and its fine-tuning settings
# (AdamW, lr 1e-6, weight decay 1e-5, backbone lr x 0.1, gradient clipping
# of each whole model at L2 norm 0.01, batch 4, 160k iterations, poly decay
# (power 0.9) to 0 with no warm-up, validation every 5k iterations) and its
# teacher selection: per image, the member with the lower total task loss
# (class + mask + Dice over all decoder layers) teaches.
#
# Where bikd_mm differs from the reference on purpose (docs/method.md,
# "Mask2Former members"): its KD term trains both members (the reference
# detaches both predictions, so its KL sends no gradient); the KD
# distribution is each member's per-pixel class distribution normalised
# over all classes (the reference normalises chunks of 18 classes of the
# post-processed scores separately), at the masks' resolution
# (kd_resolution='logits'; the reference's is the original image size, and
# 'labels' comes nearer it at more cost); each image's task loss is
# normalised by its own matched masks (the reference adds per-image class
# losses to batch-level mask losses).
#
# Everything else is stock Mask2Former. Data, runtime and hooks come from
# the R50 member's config (the Swin-T config inherits the same data): its
# train pipeline with multi-scale resize, 512 x 512 crops, flips and
# photometric distortion. Each member keeps its own optimizer wrapper
# (gradient clipping, AdamW eps and betas, no weight decay on norms,
# queries and level embeddings, and for Swin on its position tables), with
# the reference rates merged in.
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
max_iters = 160000
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
train_cfg = dict(max_iters=max_iters, val_interval=5000)
train_dataloader = dict(batch_size=4)
default_hooks = dict(
    checkpoint=dict(
        interval=5000, save_best=['r50/mIoU', 'swin/mIoU'], rule='greater'
    )
)
