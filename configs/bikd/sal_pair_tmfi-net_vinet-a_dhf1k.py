# The paper's saliency pair on DHF1K: the released TMFI-Net and ViNet-A
# teach each other, in the setting of the Bi-KD reference
# (src/train_sal_bi_kd.py, scripts/train_sal_bi_kd.sh DHF1K of Syd-J/Bi-KD).
#
# Checkpoints (place them under checkpoints/, see docs/saliency.md):
#   best_VSTNet_DHF1K.pth   TMFI-Net release
#   ViNetA_DHF1K_32g.pt     ViNet-A release
# Both load strictly as they are; tools/saliency/export_released.py writes
# a trained member back in the same layout.
#
# Reference protocol: each member its own clip around one shared target
# frame (TMFI-Net: 32 consecutive frames ending at it, 224x384, ImageNet
# mean/std; ViNet-A: 32 frames at stride 2 from 32 before to 30 after it,
# 256x456, mean 0.45 / std 0.225; the first / last frame repeated at the
# ends of a video); frames resized by PIL's bilinear filter; one random
# target frame per video per epoch, no augmentation; ground truth and
# TMFI-Net's map at ViNet-A's 256x456 in training; KLD - CC loss, the
# member with the lower KLD - CC teaches each clip (a tie: ViNet-A); batch
# 4; Adam lr 1e-6, weight decay 1e-5, 100 epochs. Validation every 32nd
# frame but the last 64 of each video, maps resized to the ground truth and
# blurred (Gaussian, 11x11, sigma 2) before scoring; best checkpoint per
# member by validation KLD - CC.
#
# Differs from the reference on purpose: the reference trains on
# DHF1K/annotation, i.e. videos 1-700, which includes the 100 validation
# videos it selects checkpoints on; here training uses videos 1-600
# (split='train') only. To train as the reference does, make
# train_dataloader.dataset a ConcatDataset of this dataset and the same
# with split='val'.
_base_ = ['../_base_/schedules/sal_reference_100e.py']
default_scope = 'bikd_mm'
custom_imports = dict(
    imports=[
        'bikd_mm.models.saliency',
        'bikd_mm.datasets.saliency',
        'bikd_mm.evaluation.saliency',
        'bikd_mm.evaluation.metrics',
        'bikd_mm.engine',
    ],
    allow_failed_imports=False,
)
runner_type = 'BiKDRunner'

models_dir = '{{fileDirname}}/../_base_/models'
model = dict(
    type='BiKDSaliency',
    members=[
        dict(
            name='tmfi_net',
            config=f'{models_dir}/sal_tmfi-net.py',
            checkpoint='checkpoints/best_VSTNet_DHF1K.pth',
        ),
        dict(
            name='vinet_a',
            config=f'{models_dir}/sal_vinet-a.py',
            checkpoint='checkpoints/ViNetA_DHF1K_32g.pt',
        ),
    ],
    granularity='sample',
    kd_weight=1.0,
    selection_loss=dict(type='SaliencyKLDCCLoss'),
    tie='auto',
)

# Each member's frames around the shared target (see the header).
member_clips = dict(
    tmfi_net=dict(clip_len=32, frame_stride=1, target_pos='last'),
    vinet_a=dict(clip_len=32, frame_stride=2, target_pos=16),
)
member_sizes = dict(tmfi_net=(224, 384), vinet_a=(256, 456))
train_gt_size = (256, 456)

dataset_type = 'DHF1KDataset'
data_root = 'data/DHF1K'
train_pipeline = [
    dict(type='LoadSaliencyClip'),
    dict(type='SplitMemberClips', sizes=member_sizes),
    dict(type='ResizeClip', size=train_gt_size, resize_imgs=False),
    dict(type='PackSaliencyInputs'),
]
# Maps stay at their own size: predictions are resized to them.
val_pipeline = [
    dict(type='LoadSaliencyClip'),
    dict(type='SplitMemberClips', sizes=member_sizes),
    dict(type='PackSaliencyInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        sampling='random',
        member_clips=member_clips,
        pad_mode='repeat',
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        sampling='sliding',
        clip_interval=32,
        end_margin=64,
        member_clips=member_clips,
        pad_mode='repeat',
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
# Every frame of the validation videos, with shuffled-AUC negatives.
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        sampling='sliding',
        member_clips=member_clips,
        pad_mode='repeat',
        other_fixations=10,
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
# Once per member (BiKDRunner wraps it in MemberMetric).
val_evaluator = dict(
    type='SaliencyMetric',
    metrics=('KLD_CC', 'CC', 'KLD', 'SIM', 'NSS'),
    blur_sigma=2.0,
    blur_kernel_size=11,
)
test_evaluator = dict(
    type='SaliencyMetric',
    metrics=('CC', 'KLD', 'SIM', 'NSS', 'AUC_J', 'sAUC'),
    blur_sigma=2.0,
    blur_kernel_size=11,
)
# Best checkpoint per member by validation loss; add 'tmfi_net/CC' and
# 'vinet_a/CC' with rule 'greater' to keep the best by CC as well.
default_hooks = dict(
    checkpoint=dict(
        save_best=['tmfi_net/KLD_CC', 'vinet_a/KLD_CC'], rule='less'
    )
)
