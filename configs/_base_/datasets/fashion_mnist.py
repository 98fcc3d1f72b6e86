# Fashion-MNIST: 28x28 grayscale clothing images, 10 classes, 60,000 train
# and 10,000 test. Read from the idx files under data_root (None:
# $BIKD_FASHION_MNIST, else /usr/share/datasets/fashion-mnist, where
# Debian's `dataset-fashion-mnist` installs them). ``FashionMNISTDataset``
# is registered by importing ``bikd_mm.datasets`` (``custom_imports``).
dataset_type = 'FashionMNISTDataset'
data_root = None

# One channel; the statistics of the 60,000 training images.
data_preprocessor = dict(
    num_classes=10,
    mean=[72.94],
    std=[90.02],
    to_rgb=False,
)

# Samples hold their image as an array: no LoadImageFromFile. Horizontal
# flips keep every class (a mirrored shoe is still a shoe).
train_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=250,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader

val_evaluator = dict(type='Accuracy', topk=(1,))
test_evaluator = val_evaluator
