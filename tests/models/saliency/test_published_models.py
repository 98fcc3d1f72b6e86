"""TMFI-Net, ViNet-A and ViNet-S: the released layout and the released
computation.

The expected outputs in ``expected/<model>_expected.npz`` were produced once by
the authors' code (``Syd-J/Bi-KD`` at f512091: ``VideoSaliencyModel()`` of
``src/tmfi_net.py``, ``ViNetA(use_skip=True, use_channel_shuffle=True,
decoder_groups=32)`` of ``src/vinet_a.py`` and ``VideoSaliencyModel(
use_upsample=True, num_hier=3, num_clips=32, grouped_conv=True,
root_grouping=True, depth=False, efficientnet=False, BiCubic=True)`` of
``src/vinet_s.py``), in eval mode on CPU, loaded strictly with the weights
of :func:`published.seeded_release_state` (seed 1, each model's gain) and
fed :func:`published.seeded_clip` (seed 2) at the model's stock size. Each
file holds the map on every 4th row and column (``grid``), and the whole
map's ``mean`` and ``std``. The reference code is not needed here.
"""

import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.runner import load_checkpoint

from bikd_mm.registry import MODELS

from .published import (
    FIXTURES,
    load_manifest,
    manifest_shapes,
    seeded_clip,
    seeded_release_state,
)
from .published import (
    MODELS as PUBLISHED,
)

NAMES = list(PUBLISHED)


@pytest.fixture(scope='module')
def manifest():
    return load_manifest()


def build(name: str):
    return MODELS.build(dict(type=PUBLISHED[name][0]))


def seeded(name: str, model, manifest) -> dict:
    return seeded_release_state(
        manifest[name], model.state_dict(), gain=PUBLISHED[name][2]
    )


@pytest.mark.parametrize('name', NAMES)
def test_state_dict_is_the_released_layout(name, manifest):
    model = build(name)
    entry = manifest[name]
    own = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert own == list(manifest_shapes(entry).items())
    assert len(own) == entry['num_tensors']
    assert sum(p.numel() for p in model.parameters()) == entry['num_params']


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('wrapped', [False, True])
def test_released_file_loads_strictly(name, wrapped, manifest, tmp_path):
    """A file in the manifest layout (bare, as released, or under
    ``state_dict``) loads with ``strict=True`` through mmengine."""
    model = build(name)
    state = seeded(name, model, manifest)
    path = tmp_path / 'release.pth'
    torch.save(dict(state_dict=state) if wrapped else state, path)
    load_checkpoint(model, str(path), strict=True, map_location='cpu')
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_a_foreign_file_fails_strictly(manifest, tmp_path):
    model = build('vinet_s')
    state = seeded('vinet_s', model, manifest)
    state['decoder.convtsp1.0.weight'] = torch.zeros(832, 16, 1, 3, 3)
    path = tmp_path / 'bad.pth'
    torch.save(state, path)
    with pytest.raises(RuntimeError, match='convtsp1.0.weight'):
        load_checkpoint(model, str(path), strict=True, map_location='cpu')


@pytest.mark.parametrize('name', NAMES)
def test_output_equals_the_published_model(name, manifest):
    """Tensor mode reproduces the authors' code to 1e-4 at stock size."""
    model = build(name).eval()
    model.load_state_dict(seeded(name, model, manifest), strict=True)
    size = PUBLISHED[name][1]
    expected = np.load(osp.join(FIXTURES, f'{name}_expected.npz'))
    with torch.no_grad():
        out = model(seeded_clip(size), mode='tensor')
    assert tuple(out.shape) == (1, 1, *size)
    assert tuple(expected['shape']) == size
    got = out[0, 0].double()
    grid = torch.from_numpy(expected['grid']).double()
    assert got[::4, ::4].shape == grid.shape
    assert (got[::4, ::4] - grid).abs().max().item() < 1e-4
    assert abs(got.mean().item() - float(expected['mean'])) < 1e-5
    assert abs(got.std().item() - float(expected['std'])) < 1e-5
    # The comparison has something to see: maps vary, mostly away from
    # the sigmoid's flat ends.
    assert float(expected['std']) > 0.05
    assert ((grid > 0.01) & (grid < 0.99)).double().mean() > 0.5
