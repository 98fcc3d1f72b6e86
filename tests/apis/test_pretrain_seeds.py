"""Members pre-trained alone once per seed, their curves and plateaus."""

import json
import os
import os.path as osp

import pytest
import torch

from bikd_mm.apis import plateau, pretrain_seeds, pretrained_path

from ..conftest import REPO


def test_plateau_by_hand():
    curve = [[100, 50.0], [200, 80.0], [300, 88.0], [400, 89.0], [500, 89.5]]
    # Tail: iterations >= 400 (last 20% of 500), plus the point before it.
    flat = plateau(curve)
    assert flat == dict(
        final=89.5, tail_from=400, tail_range=0.5, tail_points=2
    )
    assert plateau(curve, tail=0.5)['tail_range'] == pytest.approx(9.5)
    with pytest.raises(ValueError, match='empty'):
        plateau([])


def tiny_member(tmp_path, name='vit'):
    config = tmp_path / f'{name}.py'
    base = osp.join(REPO, 'configs/bikd/demo/members/vit-tiny_digits.py')
    config.write_text(
        f'_base_ = [{base!r}]\n'
        'train_cfg = dict(max_iters=2, val_interval=1)\n'
        'train_dataloader = dict(batch_size=4)\n'
        'val_dataloader = dict(dataset=dict(indices=8))\n'
    )
    return dict(name=name, config=str(config))


def test_each_seed_trains_its_own_cached_run(tmp_path, monkeypatch):
    monkeypatch.setenv('BIKD_CACHE', str(tmp_path / 'cache'))
    member = tiny_member(tmp_path)
    paths = pretrain_seeds(
        [member], 'cls', [0, 1], str(tmp_path / 'work'), workers=0
    )
    assert set(paths) == {0, 1}
    first, second = paths[0]['vit'], paths[1]['vit']
    assert first == pretrained_path(member, 'cls', None, 0) != second
    states = [torch.load(p, weights_only=True) for p in (first, second)]
    assert states[0]['meta']['seed'] == 0 and states[1]['meta']['seed'] == 1
    curve = states[0]['meta']['val_curve']['accuracy/top1']
    assert [step for step, _ in curve] == [1, 2]
    with open(osp.splitext(first)[0] + '.json') as f:
        assert json.load(f)['val_curve']['accuracy/top1'] == curve
    # Different seeds start from different weights.
    key = next(iter(states[0]['state_dict']))
    assert not torch.equal(
        states[0]['state_dict'][key], states[1]['state_dict'][key]
    )
    # A second call reuses the cache instead of training again.
    logged = []
    again = pretrain_seeds(
        [member], 'cls', [0, 1], str(tmp_path / 'w2'), log=logged.append
    )
    assert again == paths
    assert all(line.startswith('reusing') for line in logged)
    assert not osp.exists(tmp_path / 'w2')


def test_kept_pretrainings_fill_the_cache_after_their_checksum(
    tmp_path, monkeypatch
):
    import hashlib

    from bikd_mm.apis import reuse_pretrained

    monkeypatch.setenv('BIKD_CACHE', str(tmp_path / 'cache'))
    member = tiny_member(tmp_path)
    kept = tmp_path / 'kept'
    # A folder not made yet (the first run of a new evidence script) or
    # holding nothing kept: nothing to reuse, everything trains.
    assert reuse_pretrained([member], 'cls', [1], str(kept)) == []
    kept.mkdir()
    assert reuse_pretrained([member], 'cls', [1], str(kept)) == []
    (kept / 'vit-seed1.pth').write_bytes(b'weights of seed 1')
    digest = hashlib.sha256(b'weights of seed 1').hexdigest()
    (kept / 'SHA256SUMS').write_text(f'{digest}  vit-seed1.pth\n')
    logs = []
    # Seed 1 is kept and copied; seed 2 has no file and is left to train.
    filled = reuse_pretrained(
        [member], 'cls', [1, 2], str(kept), log=logs.append
    )
    target = pretrained_path(member, 'cls', None, 1)
    assert filled == [target]
    assert open(target, 'rb').read() == b'weights of seed 1'
    assert not osp.exists(pretrained_path(member, 'cls', None, 2))
    assert 'vit-seed1.pth' in logs[0]
    # Filled once: a second call copies nothing.
    assert reuse_pretrained([member], 'cls', [1], str(kept)) == []
    # A kept file that differs from its checksum is refused, by name.
    os.remove(target)
    (kept / 'vit-seed1.pth').write_bytes(b'edited')
    with pytest.raises(ValueError, match='vit-seed1.pth'):
        reuse_pretrained([member], 'cls', [1], str(kept))
    assert not osp.exists(target)
    # No checksums at all: a clear error naming the list.
    os.remove(kept / 'SHA256SUMS')
    with pytest.raises(FileNotFoundError, match='SHA256SUMS'):
        reuse_pretrained([member], 'cls', [1], str(kept))


def test_kept_files_written_then_reused_in_a_fresh_cache(
    tmp_path, monkeypatch
):
    from bikd_mm.apis import keep_pretrained, reuse_pretrained
    from bikd_mm.utils.checksums import verify_sha256sums

    member = tiny_member(tmp_path)
    trained = tmp_path / 'trained.pth'
    trained.write_bytes(b'weights')
    kept = tmp_path / 'kept'
    written = keep_pretrained({3: {'vit': str(trained)}}, str(kept))
    assert written == [str(kept / 'vit-seed3.pth')]
    assert list(verify_sha256sums(str(kept / 'SHA256SUMS'))) == [
        'vit-seed3.pth'
    ]
    # A kept file is never replaced by another run's.
    other = tmp_path / 'other.pth'
    other.write_bytes(b'other weights')
    assert keep_pretrained({3: {'vit': str(other)}}, str(kept)) == []
    assert (kept / 'vit-seed3.pth').read_bytes() == b'weights'
    # Another machine's empty cache gets the kept bytes.
    monkeypatch.setenv('BIKD_CACHE', str(tmp_path / 'elsewhere'))
    (path,) = reuse_pretrained([member], 'cls', [3], str(kept))
    assert open(path, 'rb').read() == b'weights'
