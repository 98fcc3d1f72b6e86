# Video saliency Bi-KD demo: the two tiny demo members, each pre-trained
# alone, fine-tuned together on the synthetic videos. `make demo` (or
# `make demo-sal`, which runs tools/saliency/demo.py) writes the videos and
# the member checkpoints named below; train from the repository root with
# `python tools/train.py configs/bikd/demo/sal_pair_synthetic.py`.
_base_ = ['./sal_synthetic_base.py']
runner_type = 'BiKDRunner'
pretrained_dir = 'work_dirs/demo/sal/pretrained'
model = dict(
    type='BiKDSaliency',
    members=[
        dict(
            name='swin',
            config='{{fileDirname}}/sal_member_swin_synthetic.py',
            checkpoint=f'{pretrained_dir}/swin.pth',
        ),
        dict(
            name='s3d',
            config='{{fileDirname}}/sal_member_s3d_synthetic.py',
            checkpoint=f'{pretrained_dir}/s3d.pth',
        ),
    ],
    granularity='sample',
)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-4))
