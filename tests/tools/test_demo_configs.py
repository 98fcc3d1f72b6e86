"""After the demo has run, every demo pair config trains with
tools/train.py as it is: the member checkpoints it names exist."""

import glob
import os
import os.path as osp
import subprocess
import sys

from mmengine.config import Config
from mmengine.registry import RUNNERS

from bikd_mm.engine.runner.pair_config import is_pair_config
from bikd_mm.utils.config import load_config

from ..conftest import REPO

SHORT_OPTIONS = {
    'train_cfg.max_iters': 1,
    'train_cfg.val_interval': 1,
    'default_hooks.checkpoint.interval': 1,
}
SHORT = [f'{key}={value}' for key, value in SHORT_OPTIONS.items()]


def run(args, cwd, env, timeout=900) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def demo_pair_configs() -> list:
    paths = sorted(glob.glob(osp.join(REPO, 'configs/bikd/demo/*.py')))
    return [p for p in paths if is_pair_config(Config.fromfile(p))]


def test_every_demo_pair_config_trains_after_the_demo(tmp_path, monkeypatch):
    # The demos as `make demo` runs them (from the repository root, here a
    # fresh folder standing in for it), with short pre-training.
    env = dict(os.environ, BIKD_CACHE=str(tmp_path / 'cache'))
    root = tmp_path / 'checkout'
    root.mkdir()
    work_dir = str(root / 'work_dirs' / 'demo')
    for task in ('seg', 'cls'):
        run(
            [
                osp.join(REPO, 'tools/demo/run_demo.py'),
                task,
                '--data',
                'digits',
                '--pretrain-only',
                '--pretrain-iters',
                '2',
                '--work-dir',
                work_dir,
            ],
            root,
            env,
        )
    run(
        [
            osp.join(REPO, 'tools/saliency/demo.py'),
            '--work-dir',
            osp.join(work_dir, 'sal'),
            '--pretrain-iters',
            '2',
            '--pair-iters',
            '1',
        ],
        root,
        env,
    )
    configs = demo_pair_configs()
    names = {osp.basename(p) for p in configs}
    assert {
        'seg_pair_digits.py',
        'seg_pair_digits_cnn_swin-cw.py',
        'cls_pair_digits.py',
        'sal_pair_synthetic.py',
    } <= names
    for path in configs:
        for member in Config.fromfile(path).model.members:
            assert osp.isfile(root / member['checkpoint']), (path, member)
    # One through tools/train.py as a user runs it, the others in-process
    # (the same runner, without another interpreter start-up).
    first, *others = configs
    run(
        [
            osp.join(REPO, 'tools/train.py'),
            first,
            '--work-dir',
            str(tmp_path / 'runs' / osp.basename(first)),
            '--cfg-options',
            *SHORT,
        ],
        root,
        env,
    )
    assert osp.isfile(tmp_path / 'runs' / osp.basename(first) / 'iter_1.pth')
    monkeypatch.chdir(root)
    monkeypatch.setenv('BIKD_CACHE', env['BIKD_CACHE'])
    for path in others:
        cfg = load_config(path, SHORT_OPTIONS)
        cfg.work_dir = str(tmp_path / 'runs' / osp.basename(path))
        RUNNERS.build(cfg).train()
        assert osp.isfile(osp.join(cfg.work_dir, 'iter_1.pth'))
