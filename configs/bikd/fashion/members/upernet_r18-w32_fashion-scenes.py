# Member "cnn" of the Fashion scenes pair, trained alone: a stock mmseg
# UPerNet on a ResNet-18-shaped backbone at half width (base 32), 3.4M
# parameters, for 96x96 scenes.
_base_ = [
    '../../../_base_/models/upernet_r18-tiny.py',
    '../../../_base_/datasets/fashion_scenes.py',
    '../../../_base_/schedules/fashion_scenes_iters.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
data_preprocessor = dict(size=(96, 96))
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    backbone=dict(stem_channels=32, base_channels=32),
    decode_head=dict(in_channels=[32, 64, 128, 256], channels=64),
    auxiliary_head=dict(in_channels=128, channels=32),
)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
)
