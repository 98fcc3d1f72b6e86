# Member "s3d" of the saliency demo, trained alone: a tiny S3D +
# ViNetDecoder model (a bikd_mm design) on the synthetic videos.
_base_ = [
    '../../_base_/models/sal_vinet_s3d-nano.py',
    './sal_synthetic_base.py',
]
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3))
