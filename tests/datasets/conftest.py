"""Shared fixtures of the dataset tests.

Every test runs with ``BIKD_DATA_ROOT`` pointing into a temporary folder,
so nothing can reach the user's real cache.
"""

import pytest

from bikd_mm.datasets.digits import prepare_digits_cls, prepare_digits_seg

#: Small sizes keep generation well under a second.
SMALL_SEG = dict(num_train=16, num_val=8)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.mktemp('cache')
    monkeypatch.setenv('BIKD_DATA_ROOT', str(cache))
    return cache


@pytest.fixture(scope='session')
def seg_root(tmp_path_factory):
    return prepare_digits_seg(
        str(tmp_path_factory.mktemp('seg') / 'digits_seg'), **SMALL_SEG
    )


@pytest.fixture(scope='session')
def cls_root(tmp_path_factory):
    return prepare_digits_cls(
        str(tmp_path_factory.mktemp('cls') / 'digits_cls')
    )
