# Three released saliency models teach each other on DHF1K: TMFI-Net,
# ViNet-S and ViNet-A, in the setting of the Bi-KD reference
# (src/train_sal_tri_kd.py, scripts/train_sal_tri_kd.sh DHF1K of
# Syd-J/Bi-KD). Everything not stated here is as in
# sal_pair_tmfi-net_vinet-a_dhf1k.py.
#
# Checkpoints (under checkpoints/, see docs/saliency.md):
#   best_VSTNet_DHF1K.pth             TMFI-Net release
#   vinet_rootgrouped_32_DHF1K.pt     ViNet-S release
#   ViNetA_DHF1K_32g.pt               ViNet-A release
#
# ViNet-S reads the clip TMFI-Net reads (32 consecutive frames ending at the
# target, 224x384, ImageNet mean/std), as in the reference; both maps are
# resized to ViNet-A's 256x456 in training. Per clip the member with the
# lowest KLD - CC teaches the two others; on a tie nobody teaches.
_base_ = ['./sal_pair_tmfi-net_vinet-a_dhf1k.py']

models_dir = '{{fileDirname}}/../_base_/models'
model = dict(
    members=[
        dict(
            name='tmfi_net',
            config=f'{models_dir}/sal_tmfi-net.py',
            checkpoint='checkpoints/best_VSTNet_DHF1K.pth',
        ),
        dict(
            name='vinet_s',
            config=f'{models_dir}/sal_vinet-s.py',
            checkpoint='checkpoints/vinet_rootgrouped_32_DHF1K.pt',
        ),
        dict(
            name='vinet_a',
            config=f'{models_dir}/sal_vinet-a.py',
            checkpoint='checkpoints/ViNetA_DHF1K_32g.pt',
        ),
    ],
)

member_clips = dict(
    tmfi_net=dict(clip_len=32, frame_stride=1, target_pos='last'),
    vinet_s=dict(clip_len=32, frame_stride=1, target_pos='last'),
    vinet_a=dict(clip_len=32, frame_stride=2, target_pos=16),
)
member_sizes = dict(
    tmfi_net=(224, 384), vinet_s=(224, 384), vinet_a=(256, 456)
)
train_dataloader = dict(
    dataset=dict(
        member_clips=member_clips,
        pipeline=[
            dict(type='LoadSaliencyClip'),
            dict(type='SplitMemberClips', sizes=member_sizes),
            dict(type='ResizeClip', size=(256, 456), resize_imgs=False),
            dict(type='PackSaliencyInputs'),
        ],
    )
)
_eval_pipeline = [
    dict(type='LoadSaliencyClip'),
    dict(type='SplitMemberClips', sizes=member_sizes),
    dict(type='PackSaliencyInputs'),
]
val_dataloader = dict(
    dataset=dict(member_clips=member_clips, pipeline=_eval_pipeline)
)
test_dataloader = dict(
    dataset=dict(member_clips=member_clips, pipeline=_eval_pipeline)
)
default_hooks = dict(
    checkpoint=dict(
        save_best=['tmfi_net/KLD_CC', 'vinet_s/KLD_CC', 'vinet_a/KLD_CC'],
        rule='less',
    )
)
