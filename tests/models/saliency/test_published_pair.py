"""The paper's saliency pair with the published models: released files
loaded through ``checkpoint=``, a training step on per-member clips, and
export back to the released layout."""

import copy
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import DefaultScope

from bikd_mm.models.saliency import export_released
from bikd_mm.registry import DATASETS, MODELS
from bikd_mm.utils.checkpoint import load_checkpoint_file
from tests.datasets.saliency.layouts import write_standard_video

from .published import MODELS as PUBLISHED
from .published import load_manifest, manifest_shapes, seeded_release_state

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
)
DHF1K_PAIR = osp.join(REPO, 'configs/bikd/sal_pair_tmfi-net_vinet-a_dhf1k.py')
#: Small member inputs (the stock sizes make a CPU step slow).
SIZES = dict(tmfi_net=(32, 64), vinet_a=(32, 56))


def _released_files(tmp_path, manifest) -> dict:
    """Seeded weights in the released layout: TMFI-Net's bare, as
    released, ViNet-A's under ``state_dict``."""
    paths = {}
    for name, wrapped in (('tmfi_net', False), ('vinet_a', True)):
        model = MODELS.build(dict(type=PUBLISHED[name][0]))
        state = seeded_release_state(
            manifest[name], model.state_dict(), gain=PUBLISHED[name][2]
        )
        path = str(tmp_path / f'{name}.pth')
        torch.save(dict(state_dict=state) if wrapped else state, path)
        paths[name] = (path, state)
    return paths


def _small_pair_config(paths: dict, root: str) -> Config:
    cfg = Config.fromfile(DHF1K_PAIR)
    for member in cfg.model.members:
        member.checkpoint = paths[member.name][0]
        member.cfg_options = {
            'model.data_preprocessor.size': SIZES[member.name]
        }
    dataset = cfg.train_dataloader.dataset
    dataset.data_root = root
    dataset.pipeline[1].sizes = SIZES
    dataset.pipeline[2].size = (16, 28)
    return cfg


@pytest.fixture(scope='module')
def manifest():
    return load_manifest()


def test_pair_step_on_member_clips_and_export(tmp_path, manifest):
    paths = _released_files(tmp_path, manifest)
    root = str(tmp_path / 'dhf1k')
    for number in (1, 2):
        write_standard_video(
            osp.join(root, 'annotation', f'{number:04d}'), 12, seed=number
        )
    cfg = _small_pair_config(paths, root)
    with DefaultScope.overwrite_default_scope('bikd_mm'):
        dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
        torch.manual_seed(0)
        pair = MODELS.build(cfg.model)
    # The released files, as they are, are the members' starting weights.
    for name, (_, state) in paths.items():
        own = pair.members[name].state_dict()
        assert list(own) == list(manifest_shapes(manifest[name]))
        for key, value in state.items():
            assert torch.equal(own[key], value), (name, key)

    assert len(dataset) == 2
    batch = pseudo_collate([dataset[0], dataset[1]])
    assert {n: tuple(c[0].shape) for n, c in batch['inputs'].items()} == {
        'tmfi_net': (32, 3, 32, 64),
        'vinet_a': (32, 3, 32, 56),
    }
    pair.train()
    with torch.no_grad():
        maps = pair(**pair.data_preprocessor(batch), mode='tensor')
    assert tuple(maps['tmfi_net'].shape) == (2, 1, 32, 64)
    assert tuple(maps['vinet_a'].shape) == (2, 1, 32, 56)

    wrappers = OptimWrapperDict(
        **{
            name: OptimWrapper(
                torch.optim.Adam(
                    pair.members[name].parameters(),
                    lr=1e-6,
                    weight_decay=1e-5,
                )
            )
            for name in pair.member_names
        }
    )
    before = {
        n: m.decoder.state_dict()['convtsp1.0.weight'].clone()
        for n, m in pair.members.items()
    }
    log = pair.train_step(batch, wrappers)
    for key in (
        'tmfi_net.loss_kld_cc',
        'vinet_a.loss_kld_cc',
        'kd.loss_tmfi_net_to_vinet_a',
        'kd.loss_vinet_a_to_tmfi_net',
    ):
        assert key in log and torch.isfinite(torch.as_tensor(log[key]))
    shares = float(log['tmfi_net.teach_share']) + float(
        log['vinet_a.teach_share']
    )
    assert shares == pytest.approx(1.0)
    for name, member in pair.members.items():
        after = member.decoder.state_dict()['convtsp1.0.weight']
        assert not torch.equal(after, before[name]), name
        # Adam's first step moves each weight by about the rate.
        assert (after - before[name]).abs().max() < 3e-6

    # A Bi-KD checkpoint, exported member by member to the released layout
    # (by the function and by tools/saliency/export_released.py).
    sys.path.insert(0, osp.join(REPO, 'tools', 'saliency'))
    import export_released as tool

    pair_ckpt = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(state_dict=pair.state_dict(), meta={}), pair_ckpt)
    for name in pair.member_names:
        out = str(tmp_path / f'{name}_released.pth')
        if name == 'vinet_a':
            assert tool.main([pair_ckpt, '--member', name, '--out', out]) == 0
        else:
            export_released(pair_ckpt, name, out)
        written = load_checkpoint_file(str(out))
        shapes = [(k, tuple(v.shape)) for k, v in written.items()]
        assert shapes == list(manifest_shapes(manifest[name]).items())
        fresh = MODELS.build(dict(type=PUBLISHED[name][0]))
        fresh.load_state_dict(written, strict=True)
        for key, value in pair.members[name].state_dict().items():
            assert torch.equal(fresh.state_dict()[key], value), key
    with pytest.raises(KeyError, match="members: \\['tmfi_net', 'vinet_a'\\]"):
        export_released(pair_ckpt, 'vinet_s', str(tmp_path / 'x.pth'))
