# Handwritten digits on textured 64x64 canvases: 11 classes (background and
# the digits 0-9), 255 ignored on the blurred ring around each digit.
# The dataset is generated on first use. ``data_root = None`` selects the
# shared cache ($BIKD_DATA_ROOT/digits_seg, else
# ~/.cache/bikd_mm/data/digits_seg_v<version>); a path is used as it is and
# generated there when missing. ``DigitsSegDataset`` is registered by
# importing ``bikd_mm.datasets`` (e.g. through ``custom_imports``).
dataset_type = 'DigitsSegDataset'
data_root = None

# No flips: a mirrored digit is not the same digit (a flipped 2 looks like
# a 5), and the canvases are small enough to need no crop or resize.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='img_dir/train', seg_map_path='ann_dir/train'
        ),
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
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline,
    ),
)
# The digits ship no separate test split: testing reuses val.
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
