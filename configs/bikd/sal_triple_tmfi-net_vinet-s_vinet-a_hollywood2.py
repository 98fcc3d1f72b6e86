# Three released saliency models teach each other on Hollywood-2: TMFI-Net,
# ViNet-S and ViNet-A, in the setting of the Bi-KD reference
# (src/train_sal_tri_kd.py, scripts/train_sal_tri_kd.sh Hollywood2 of
# Syd-J/Bi-KD): the data and validation of
# sal_pair_tmfi-net_vinet-a_hollywood2.py, the members and their clips as in
# sal_triple_tmfi-net_vinet-s_vinet-a_dhf1k.py.
#
# Checkpoints (under checkpoints/, see docs/saliency.md):
#   best_VSTNet_Hollywood2.pth            TMFI-Net release
#   vinet_rootgrouped_32_Hollywood2.pt    ViNet-S release
#   ViNetA_Hollywood2_32g.pt              ViNet-A release
_base_ = ['./sal_pair_tmfi-net_vinet-a_hollywood2.py']

models_dir = '{{fileDirname}}/../_base_/models'
model = dict(
    members=[
        dict(
            name='tmfi_net',
            config=f'{models_dir}/sal_tmfi-net.py',
            checkpoint='checkpoints/best_VSTNet_Hollywood2.pth',
        ),
        dict(
            name='vinet_s',
            config=f'{models_dir}/sal_vinet-s.py',
            checkpoint='checkpoints/vinet_rootgrouped_32_Hollywood2.pt',
        ),
        dict(
            name='vinet_a',
            config=f'{models_dir}/sal_vinet-a.py',
            checkpoint='checkpoints/ViNetA_Hollywood2_32g.pt',
        ),
    ],
)

member_clips = dict(
    tmfi_net=dict(clip_len=32, frame_stride=1, target_pos='last'),
    vinet_s=dict(clip_len=32, frame_stride=1, target_pos='last'),
    vinet_a=dict(clip_len=32, frame_stride=1, target_pos=16),
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
