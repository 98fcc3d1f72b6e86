"""Which data the demo uses: Fashion-MNIST with the committed members where
the idx files are, the digits elsewhere or when asked."""

import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO
from ..datasets.fashion_mnist_files import write_fashion_mnist

# Few, small scenes (the committed members read any canvas size).
SMALL_SCENES = [
    f'{loader}.dataset.generate_cfg.{key}={value}'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for key, value in (('num_train', 8), ('num_test', 4), ('canvas_size', 64))
]


def run_demo(tmp_path, fashion_root, *args, task='cls'):
    env = dict(
        os.environ,
        BIKD_CACHE=str(tmp_path / 'cache'),
        BIKD_FASHION_MNIST=str(fashion_root),
    )
    result = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/demo/run_demo.py'), task]
        + [*args, '--work-dir', str(tmp_path / 'demo')],
        # The working directory stands in for the repository root.
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    'task, folder, names, extra',
    [
        ('cls', 'fashion_mnist_cls', ('cnn', 'vit'), []),
        (
            'seg',
            'fashion_scenes_seg',
            ('cnn', 'mit'),
            ['--cfg-options', *SMALL_SCENES],
        ),
    ],
)
def test_fashion_demo_reads_the_committed_members(
    tmp_path, task, folder, names, extra
):
    root = tmp_path / 'fashion'
    root.mkdir()
    write_fashion_mnist(str(root), per_class=2)
    code, out = run_demo(
        tmp_path, root, '--pair-iters', '1', *extra, task=task
    )
    assert code == 0, out[-3000:]
    assert f'checkpoints/demo/{folder} (checksums match)' in out
    assert f'Bi-KD demo ({task}, fashion)' in out
    for name in names:
        rows = [
            line for line in out.splitlines() if line.startswith(f'| {name} |')
        ]
        assert len(rows) == 1, out[-3000:]
    # The pair config's checkpoints (relative to the working directory).
    published = tmp_path / f'work_dirs/fashion/{task}/pretrained'
    for name in names:
        assert (published / f'{name}.pth').is_file()
    # Nothing was pre-trained: no member checkpoint in the cache.
    assert not (tmp_path / 'cache').exists() or not any(
        f.endswith('.pth')
        for _, _, files in os.walk(tmp_path / 'cache')
        for f in files
    )


def test_auto_falls_back_to_the_digits_and_says_why(tmp_path):
    missing = tmp_path / 'no-fashion'
    code, out = run_demo(
        tmp_path, missing, '--pretrain-only', '--pretrain-iters', '1'
    )
    assert code == 0, out[-3000:]
    assert f"Fashion-MNIST is not under '{missing}'" in out
    assert 'apt-get install dataset-fashion-mnist' in out
    assert 'using the digits' in out


def test_asking_for_fashion_without_it_is_an_error(tmp_path):
    missing = tmp_path / 'no-fashion'
    code, out = run_demo(tmp_path, missing, '--data', 'fashion')
    assert code != 0
    assert '--data fashion: Fashion-MNIST is not under' in out
