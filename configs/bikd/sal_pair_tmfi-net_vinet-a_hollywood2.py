# The paper's saliency pair on Hollywood-2: the released TMFI-Net and
# ViNet-A teach each other, in the setting of the Bi-KD reference
# (src/train_sal_bi_kd.py, scripts/train_sal_bi_kd.sh Hollywood2 of
# Syd-J/Bi-KD). Everything not stated here is as in
# sal_pair_tmfi-net_vinet-a_dhf1k.py.
#
# Checkpoints (under checkpoints/, see docs/saliency.md):
#   best_VSTNet_Hollywood2.pth   TMFI-Net release
#   ViNetA_Hollywood2_32g.pt     ViNet-A release
#
# Reference protocol on Hollywood-2: the shots of a clip are joined into one
# video (group_shots); TMFI-Net reads 32 consecutive frames ending at the
# target, ViNet-A 32 consecutive frames from 16 before to 15 after it;
# validation on the testing/ clips every 64th frame but the last 32 of each
# clip.
#
# Differs from the reference on purpose: it joins a clip's shots in
# lexicographic folder order (shot 10 before shot 2), here in shot order;
# it draws training targets from all but the last 32 frames of a clip,
# here from all frames. Like the reference, and for want of a validation
# split in the release, validation (and so the choice of the best
# checkpoints) runs on the test clips: hold out training clips to select
# checkpoints without seeing the test set.
_base_ = ['./sal_pair_tmfi-net_vinet-a_dhf1k.py']

model = dict(
    members=[
        dict(
            name='tmfi_net',
            config='{{fileDirname}}/../_base_/models/sal_tmfi-net.py',
            checkpoint='checkpoints/best_VSTNet_Hollywood2.pth',
        ),
        dict(
            name='vinet_a',
            config='{{fileDirname}}/../_base_/models/sal_vinet-a.py',
            checkpoint='checkpoints/ViNetA_Hollywood2_32g.pt',
        ),
    ],
)

member_clips = dict(
    tmfi_net=dict(clip_len=32, frame_stride=1, target_pos='last'),
    vinet_a=dict(clip_len=32, frame_stride=1, target_pos=16),
)
dataset_type = 'Hollywood2Dataset'
data_root = 'data/Hollywood2'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        group_shots=True,
        member_clips=member_clips,
    )
)
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        group_shots=True,
        clip_interval=64,
        end_margin=32,
        member_clips=member_clips,
    )
)
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        group_shots=True,
        member_clips=member_clips,
    )
)
