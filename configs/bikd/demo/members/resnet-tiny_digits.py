# Member "cnn" of the classification demo pair, trained alone: a stock
# mmpretrain config.
_base_ = [
    '../../../_base_/models/resnet-tiny_cls.py',
    '../../../_base_/datasets/digits_cls_demo.py',
    '../../../_base_/schedules/demo_iters_cls.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4),
)
