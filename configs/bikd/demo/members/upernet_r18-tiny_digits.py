# Member "cnn" of the demo pair, trained alone: a stock mmseg config.
_base_ = [
    '../../../_base_/models/upernet_r18-tiny.py',
    '../../../_base_/datasets/digits_seg.py',
    '../../../_base_/schedules/demo_iters.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4),
)
