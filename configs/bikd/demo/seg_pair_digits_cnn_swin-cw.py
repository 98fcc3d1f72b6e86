# Bi-KD demo pair with two competent members: the demo's "cnn" and the
# tiny Swin UPerNet pre-trained with a class-weighted cross-entropy
# ("swin_cw"), which, unlike the demo's "swin", learns the digits in its
# 1200 pre-training steps. Fine-tuning settings are the demo pair's.
# `make demo` (or `python tools/demo/run_demo.py seg --pretrain-only`)
# writes the member checkpoints named below; train from the repository
# root with `python tools/train.py
# configs/bikd/demo/seg_pair_digits_cnn_swin-cw.py`.
# tools/analysis/compare_transfer.py pre-trains both members alone (or
# reuses the cached weights) and points the checkpoints at them itself.
_base_ = ['./seg_pair_digits.py']
model = dict(
    members=[
        dict(
            name='cnn',
            config='{{fileDirname}}/members/upernet_r18-tiny_digits.py',
            checkpoint='work_dirs/demo/seg/pretrained/cnn.pth',
        ),
        dict(
            name='swin_cw',
            config='{{fileDirname}}/members/upernet_swin-tiny-cw_digits.py',
            checkpoint='work_dirs/demo/seg/pretrained/swin_cw.pth',
        ),
    ]
)
default_hooks = dict(
    checkpoint=dict(save_best=['cnn/mIoU', 'swin_cw/mIoU']),
)
