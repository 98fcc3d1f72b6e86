# Handwritten digits 0-9 as 32x32 grayscale PNGs (read as 3-channel images).
# The dataset is generated on first use. ``data_root = None`` selects the
# shared cache ($BIKD_DATA_ROOT/digits_cls, else
# ~/.cache/bikd_mm/data/digits_cls_v<version>); a path is used as it is and
# generated there when missing. ``DigitsClsDataset`` is registered by
# importing ``bikd_mm.datasets`` (e.g. through ``custom_imports``).
dataset_type = 'DigitsClsDataset'
data_root = None

# ImageNet statistics, since the models are ImageNet-pretrained.
data_preprocessor = dict(
    num_classes=10,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)

# No flips: a mirrored digit is not the same digit.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline=test_pipeline,
    ),
)
# The digits ship no separate test split: testing reuses val.
test_dataloader = val_dataloader

val_evaluator = dict(type='Accuracy', topk=(1,))
test_evaluator = val_evaluator
