# Video saliency Bi-KD demo: the two tiny demo members, each pre-trained
# alone (tools/saliency/demo.py writes their checkpoints), fine-tuned
# together on the synthetic videos.
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
