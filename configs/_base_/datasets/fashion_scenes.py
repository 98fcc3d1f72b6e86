# Scenes of 1-4 Fashion-MNIST items on mild 96x96 textures: 11 classes
# (background and the 10 Fashion-MNIST classes), 255 ignored on a 1-pixel
# ring inside each item's border. 10,000 train scenes (Fashion-MNIST train
# items) and 2,000 test scenes (test items), generated on first use (about
# 30 s) from the idx files of Debian's dataset-fashion-mnist
# (/usr/share/datasets/fashion-mnist, or $BIKD_FASHION_MNIST) into the
# cache ($BIKD_DATA_ROOT, else ~/.cache/bikd_mm/data, in
# fashion_scenes_v<version>_<hash of the options>). The datasets'
# ``generate_cfg`` changes the options (sizes, ignore_width=0 for clean
# labels, seed, ...); give train and val the same, as both splits are
# generated together.
# ``FashionScenesDataset`` is registered by importing ``bikd_mm.datasets``
# (e.g. through ``custom_imports``).
#
# Samples come from memory-mapped arrays with ``img`` and ``gt_seg_map``
# already loaded, so the pipelines have no LoadImageFromFile or
# LoadAnnotations (``in_memory=False`` reads the PNG files instead).
dataset_type = 'FashionScenesDataset'

# A mirrored garment is the same garment: horizontal flips are safe.
train_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackSegInputs'),
]
test_pipeline = [dict(type='PackSegInputs')]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        split='train',
        pipeline=train_pipeline,
    ),
)
# Validation runs on the whole test split (2,000 scenes).
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        split='test',
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
