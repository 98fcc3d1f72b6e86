# Bi-KD: UPerNet-R50 + UPerNet-Swin-T on ADE20K, from the mmseg model zoo,
# with the reference fine-tuning settings (AdamW, lr 1e-6, wd 1e-5,
# batch 4, poly schedule).
_base_ = [
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(imports=['bikd_mm'], allow_failed_imports=False)
runner_type = 'BiKDRunner'
zoo = 'https://download.openmmlab.com/mmsegmentation/v0.5'
model = dict(
    type='BiKDSegmentor',
    members=[
        dict(
            name='r50',
            config='mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
            checkpoint=f'{zoo}/upernet/upernet_r50_512x512_160k_ade20k/upernet_r50_512x512_160k_ade20k_20200615_184328-8534de8d.pth',  # noqa: E501
        ),
        dict(
            name='swin',
            config='mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',  # noqa: E501
            checkpoint=f'{zoo}/swin/upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K/upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K_20210531_112542-e380ad3e.pth',  # noqa: E501
        ),
    ],
    granularity='pixel',
    kd_resolution='logits',
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-6, weight_decay=1e-5),
)
train_dataloader = dict(batch_size=4)
default_hooks = dict(
    checkpoint=dict(save_best=['r50/mIoU', 'swin/mIoU'], rule='greater')
)
