"""Fixtures shared by the whole suite.

Every test runs with ``BIKD_DATA_ROOT`` and torch's hub cache in temporary
folders, so nothing reads or writes the user's caches and nothing is
downloaded. Triton kernels run in Triton's interpreter.
"""

import os
import os.path as osp

# The Triton kernels are checked on CPU in Triton's interpreter, which
# triton.jit selects from this variable when Triton is imported.
os.environ.setdefault('TRITON_INTERPRET', '1')

import pytest  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(path: str, name: str | None = None):
    """Import a script of the repository (``tools/...``) as a module.

    Args:
        path (str): The script, relative to the repository root.
        name (str, optional): Module name. Defaults to the file's stem.
    """
    import importlib.util

    name = name or osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMALL_SEG = dict(num_train=24, num_val=8)


@pytest.fixture(scope='session', autouse=True)
def _isolated_caches(tmp_path_factory):
    cache = tmp_path_factory.mktemp('bikd_cache')
    old = {k: os.environ.get(k) for k in ('BIKD_DATA_ROOT', 'TORCH_HOME')}
    os.environ['BIKD_DATA_ROOT'] = str(cache / 'data')
    os.environ['TORCH_HOME'] = str(cache / 'torch')
    yield
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _fresh_default_scope():
    """Each test starts without a default registry scope.

    A Runner leaves its ``default_scope`` (e.g. ``mmseg``) as the process'
    current scope, which would redirect later builds through other
    registries; each test gets the state of a fresh process.
    """
    from mmengine.registry import DefaultScope

    saved = dict(DefaultScope._instance_dict)
    DefaultScope._instance_dict.clear()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


@pytest.fixture(scope='session')
def seg_data_root(tmp_path_factory):
    """A small digits segmentation dataset (24 train / 8 val)."""
    from bikd_mm.datasets import prepare_digits_seg

    return prepare_digits_seg(
        str(tmp_path_factory.mktemp('seg') / 'digits_seg'), **SMALL_SEG
    )


@pytest.fixture
def repo() -> str:
    return REPO
