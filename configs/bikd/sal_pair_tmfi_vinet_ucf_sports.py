# Bi-KD for video saliency on UCF-Sports (DHF1K authors' release) with
# bikd_mm's own lighter members: the settings of sal_pair_tmfi_vinet_dhf1k.py,
# with this dataset's train/test folders. Short videos
# are skipped for training; sliding windows cover every test frame.
_base_ = ['./sal_pair_tmfi_vinet_dhf1k.py']
dataset_type = 'UCFSportsDataset'
data_root = 'data/UCF-Sports'
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
        clip_interval=8,
    )
)
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test')
)
