"""tools/misc/prepare_data.py: generated datasets are written once."""

import os
import os.path as osp

import pytest
from mmengine.config import Config

from bikd_mm.datasets.fashion_scenes import fashion_scenes_root

from ..conftest import load_tool as _load_tool
from ..datasets.fashion_mnist_files import write_fashion_mnist

SMALL = dict(num_train=12, num_test=6, canvas_size=64)


def load_tool():
    return _load_tool('tools/misc/prepare_data.py')


@pytest.fixture
def scenes_config(tmp_path, monkeypatch) -> str:
    """A config of small Fashion scenes, generated into a fresh cache."""
    monkeypatch.setenv('BIKD_DATA_ROOT', str(tmp_path / 'cache'))
    fashion = tmp_path / 'fashion'
    fashion.mkdir()
    dataset = dict(
        type='FashionScenesDataset',
        fashion_root=write_fashion_mnist(str(fashion)),
        generate_cfg=SMALL,
        pipeline=[dict(type='PackSegInputs')],
    )
    cfg = Config(
        dict(
            default_scope='mmseg',
            custom_imports=dict(imports=['bikd_mm']),
            train_dataloader=dict(dataset=dict(dataset, split='train')),
            val_dataloader=dict(dataset=dict(dataset, split='test')),
        )
    )
    path = str(tmp_path / 'scenes.py')
    cfg.dump(path)
    return path


def test_generates_the_scenes_once_and_reports_each_split(
    scenes_config, capsys
):
    root = fashion_scenes_root(**SMALL)
    assert not osp.exists(root)

    tool = load_tool()
    assert tool.main([scenes_config]) == {'train': 12, 'val': 6}
    assert 'train: 12 samples' in capsys.readouterr().out
    meta = osp.join(root, 'meta.json')
    written = os.stat(meta).st_mtime_ns

    # A second call finds the scenes and leaves them as they are.
    assert tool.main([scenes_config]) == {'train': 12, 'val': 6}
    assert os.stat(meta).st_mtime_ns == written


def test_cfg_options_reach_the_datasets(scenes_config):
    sizes = load_tool().main(
        [
            scenes_config,
            '--cfg-options',
            'train_dataloader.dataset.generate_cfg.num_train=10',
            'val_dataloader.dataset.generate_cfg.num_train=10',
        ]
    )
    assert sizes == {'train': 10, 'val': 6}


def test_a_config_without_datasets_is_named(tmp_path):
    path = tmp_path / 'empty.py'
    path.write_text("default_scope = 'mmseg'\n")
    with pytest.raises(KeyError, match='empty.py'):
        load_tool().main([str(path)])
