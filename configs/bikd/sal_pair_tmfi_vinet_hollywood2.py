# Bi-KD for video saliency on Hollywood-2 (DHF1K authors' release) with
# bikd_mm's own lighter members: the settings of sal_pair_tmfi_vinet_dhf1k.py,
# with this dataset's train/test folders. Many shots
# are shorter than a clip: short videos are skipped for training, and
# sliding windows (time-flipped at the start) cover every test frame.
_base_ = ['./sal_pair_tmfi_vinet_dhf1k.py']
dataset_type = 'Hollywood2Dataset'
data_root = 'data/Hollywood2'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        skip_short_videos=True,
    )
)
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        sampling='sliding',
        clip_interval=16,
    )
)
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test')
)
