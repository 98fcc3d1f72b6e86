"""What the published-model pair configs train: members, clips, optimizer,
rate curve, schedule, validation and checkpoint choice."""

import os
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from bikd_mm.engine.runner import expand_pair_config
from bikd_mm.models.member import parse_members

from .fixtures import s3d_member_model, swin_member_model

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
)
DHF1K = 'configs/bikd/sal_pair_tmfi-net_vinet-a_dhf1k.py'
HOLLYWOOD = 'configs/bikd/sal_pair_tmfi-net_vinet-a_hollywood2.py'
TRIPLE = 'configs/bikd/sal_triple_tmfi-net_vinet-s_vinet-a_dhf1k.py'
TRIPLE_HOLLYWOOD = (
    'configs/bikd/sal_triple_tmfi-net_vinet-s_vinet-a_hollywood2.py'
)
TMFI_CLIP = dict(clip_len=32, frame_stride=1, target_pos='last')
#: Per dataset: the released checkpoints' file names, ViNet-A's frame
#: stride and the validation split, interval and margin.
DATASETS = dict(
    DHF1K=(
        dict(
            tmfi_net='best_VSTNet_DHF1K.pth',
            vinet_s='vinet_rootgrouped_32_DHF1K.pt',
            vinet_a='ViNetA_DHF1K_32g.pt',
        ),
        2,
        ('DHF1KDataset', 'val', 32, 64),
    ),
    Hollywood2=(
        dict(
            tmfi_net='best_VSTNet_Hollywood2.pth',
            vinet_s='vinet_rootgrouped_32_Hollywood2.pt',
            vinet_a='ViNetA_Hollywood2_32g.pt',
        ),
        1,
        ('Hollywood2Dataset', 'test', 64, 32),
    ),
)
TYPES = dict(tmfi_net='TMFINet', vinet_s='ViNetS', vinet_a='ViNetA')


def expected(dataset: str, names: list) -> tuple:
    """Members (name, type, checkpoint), member clips and validation."""
    files, stride, validation = DATASETS[dataset]
    clips = dict(
        tmfi_net=TMFI_CLIP,
        vinet_s=TMFI_CLIP,
        vinet_a=dict(clip_len=32, frame_stride=stride, target_pos=16),
    )
    return (
        [(n, TYPES[n], f'checkpoints/{files[n]}') for n in names],
        {n: clips[n] for n in names},
        validation,
    )


PAIR = ['tmfi_net', 'vinet_a']
TRIPLE_MEMBERS = ['tmfi_net', 'vinet_s', 'vinet_a']
EXPECTED = {
    DHF1K: expected('DHF1K', PAIR),
    HOLLYWOOD: expected('Hollywood2', PAIR),
    TRIPLE: expected('DHF1K', TRIPLE_MEMBERS),
    TRIPLE_HOLLYWOOD: expected('Hollywood2', TRIPLE_MEMBERS),
}
SIZES = dict(tmfi_net=(224, 384), vinet_s=(224, 384), vinet_a=(256, 456))


@pytest.mark.parametrize('path', list(EXPECTED))
def test_config_states_the_reference_protocol(path):
    members, clips, (dataset, split, interval, margin) = EXPECTED[path]
    cfg = Config.fromfile(osp.join(REPO, path))
    specs = parse_members(cfg.model.members)
    assert [(s.name, s.model.type, s.checkpoint) for s in specs] == members
    for spec in specs:
        pre = spec.model.data_preprocessor
        assert tuple(pre['size']) == SIZES[spec.name]
    names = [m[0] for m in members]
    assert cfg.model.tie == 'auto' and cfg.model.granularity == 'sample'

    train = cfg.train_dataloader
    assert train.batch_size == 4 and train.sampler.shuffle
    assert train.dataset.type == dataset
    assert train.dataset.split == 'train'
    assert train.dataset.sampling == 'random'
    assert train.dataset.pad_mode == 'repeat'
    assert train.dataset.member_clips == clips
    # No augmentation: load, split per member, ground truth at ViNet-A's
    # output size, pack.
    steps = [t['type'] for t in train.dataset.pipeline]
    assert steps == [
        'LoadSaliencyClip',
        'SplitMemberClips',
        'ResizeClip',
        'PackSaliencyInputs',
    ]
    assert train.dataset.pipeline[1].sizes == {n: SIZES[n] for n in names}
    assert train.dataset.pipeline[1].get('interpolation') is None
    resize = train.dataset.pipeline[2]
    assert tuple(resize.size) == (256, 456) and not resize.resize_imgs

    assert train.dataset.get('group_shots', False) == (
        dataset == 'Hollywood2Dataset'
    )
    val = cfg.val_dataloader.dataset
    assert (val.type, val.split, val.sampling) == (dataset, split, 'sliding')
    assert val.get('group_shots', False) == train.dataset.get(
        'group_shots', False
    )
    assert (val.clip_interval, val.end_margin) == (interval, margin)
    assert val.member_clips == clips and val.pad_mode == 'repeat'
    assert cfg.val_evaluator.blur_sigma == 2.0
    assert cfg.val_evaluator.blur_kernel_size == 11
    assert 'KLD_CC' in cfg.val_evaluator.metrics

    hook = cfg.default_hooks.checkpoint
    assert hook.save_best == [f'{n}/KLD_CC' for n in names]
    assert hook.rule == 'less'

    cfg = expand_pair_config(cfg)
    assert set(cfg.optim_wrapper) - {'constructor'} == set(names)
    for name in names:
        wrapper = cfg.optim_wrapper[name]
        assert wrapper.optimizer == dict(
            type='Adam', lr=1e-6, weight_decay=1e-5
        )
        assert 'clip_grad' not in wrapper and 'paramwise_cfg' not in wrapper
        (sched,) = cfg.param_scheduler[name]
        assert sched.type == 'ConstantLR' and sched.factor == 1.0
        assert sched.by_epoch and (sched.begin, sched.end) == (0, 100)
    assert cfg.train_cfg == dict(
        type='EpochBasedTrainLoop', max_epochs=100, val_interval=1
    )
    assert cfg.val_evaluator.type == 'MemberMetric'
    assert cfg.val_evaluator.members == names


def test_dhf1k_pair_trains_with_the_runner(tmp_path):
    """The DHF1K pair config run by BiKDRunner (tiny members of the same
    names, synthetic DHF1K): 100 epochs of one batch per 4 videos, Adam at
    a constant 1e-6 for each member, validation every epoch and the best
    checkpoint of each member by KLD - CC."""
    from mmengine.registry import RUNNERS

    import bikd_mm.engine  # noqa: F401

    sys.path.insert(0, osp.join(REPO, 'tools', 'saliency'))
    from make_synthetic import make_synthetic

    root = make_synthetic(
        str(tmp_path / 'data'),
        num_train=5,
        num_val=1,
        num_frames=8,
        height=16,
        width=24,
        num_observers=5,
    )
    cfg = Config.fromfile(osp.join(REPO, DHF1K))
    cfg.model.members = [
        dict(name='tmfi_net', model=swin_member_model()),
        dict(name='vinet_a', model=s3d_member_model()),
    ]
    sizes = dict(tmfi_net=(16, 24), vinet_a=(32, 32))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
        cfg[key].dataset.data_root = root
        cfg[key].dataset.pipeline[1].sizes = sizes
    cfg.train_dataloader.dataset.pipeline[2].size = (32, 32)
    cfg.val_dataloader.dataset.end_margin = 4
    cfg.val_dataloader.dataset.clip_interval = 2
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'ERROR'

    # The members' starting scores under the validation protocol.
    import validate

    cfg.dump(str(tmp_path / 'pair.py'))
    start = validate.main(
        [str(tmp_path / 'pair.py'), '--work-dir', str(tmp_path / 'start')]
    )
    assert {'tmfi_net/KLD_CC', 'vinet_a/KLD_CC', 'vinet_a/CC'} <= set(start)
    assert start['tmfi_net/KLD_CC'] == pytest.approx(
        start['tmfi_net/KLD'] - start['tmfi_net/CC']
    )

    runner = RUNNERS.build(cfg)

    loop = runner.train_loop
    assert len(runner.train_dataloader) == 2  # 5 videos, batch 4
    assert loop.max_epochs == 100 and loop.max_iters == 200

    # The first of the 100 epochs.
    loop._max_epochs, loop._max_iters = 1, 2
    runner.train()
    hub = runner.message_hub
    for name in ('tmfi_net', 'vinet_a'):
        optimizer = runner.optim_wrapper[name].optimizer
        assert type(optimizer).__name__ == 'Adam'
        (group,) = optimizer.param_groups
        # Constant: still 1e-6 after an epoch of steps.
        assert group['lr'] == 1e-6 and group['weight_decay'] == 1e-5
        own = {id(p) for p in runner.model.members[name].parameters()}
        assert {id(p) for p in group['params']} == own
        assert f'val/{name}/KLD_CC' in hub.log_scalars
        best = osp.join(cfg.work_dir, f'best_{name}_KLD_CC_epoch_1.pth')
        assert osp.isfile(best), os.listdir(cfg.work_dir)
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_1.pth'))
