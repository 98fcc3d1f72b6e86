# Member "mit" of the Fashion scenes pair, trained alone: stock mmseg
# SegFormer, the MiT-b0 backbone (embed 32, depths 2-2-2-2) with the
# all-MLP head shrunk from 256 to 128 channels, 3.4M parameters, for 96x96
# scenes. Plain BN in the head (the base's SyncBN needs a process group).
_base_ = [
    'mmseg::_base_/models/segformer_mit-b0.py',
    '../../../_base_/datasets/fashion_scenes.py',
    '../../../_base_/schedules/fashion_scenes_iters.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=(96, 96))
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    decode_head=dict(channels=128, num_classes=11, norm_cfg=norm_cfg),
)
# Trained from scratch, so one rate for backbone and head; no decay on
# the norms and the positional convolutions, as mmseg's SegFormer configs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01
    ),
    paramwise_cfg=dict(
        custom_keys=dict(
            pos_block=dict(decay_mult=0.0),
            norm=dict(decay_mult=0.0),
        )
    ),
)
