# Member "cnn" of the Fashion scenes pair, trained alone: a stock mmseg
# UPerNet on a ResNet-18-shaped backbone at quarter width (base 16, as
# configs/_base_/models/upernet_r18-tiny.py) with a 32-channel head, 0.86M
# parameters (a 3.5 MB checkpoint), for 96x96 scenes.
_base_ = [
    '../../../_base_/models/upernet_r18-tiny.py',
    '../../../_base_/datasets/fashion_scenes.py',
    '../../../_base_/schedules/fashion_scenes_iters.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
data_preprocessor = dict(size=(96, 96))
model = dict(data_preprocessor=dict(size=(96, 96)))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
)
