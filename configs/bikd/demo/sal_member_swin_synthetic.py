# Member "swin" of the saliency demo, trained alone: a tiny Video Swin +
# TMFIDecoder model (a bikd_mm design) on the synthetic videos.
_base_ = [
    '../../_base_/models/sal_tmfi_swin-nano.py',
    './sal_synthetic_base.py',
]
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
