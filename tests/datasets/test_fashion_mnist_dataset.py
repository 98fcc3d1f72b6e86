"""Fashion-MNIST's idx reader and dataset, on small idx files made here."""

import gzip

import numpy as np
import pytest

from bikd_mm.datasets import FashionMNISTDataset
from bikd_mm.datasets.fashion_mnist import (
    APT_PACKAGE,
    DATA_ROOT_ENV,
    load_fashion_mnist,
    read_idx,
    write_idx,
)

NAMES = dict(
    train=('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    test=('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
)


SIZES = dict(train=12, test=5)


def make_root(root, gz: bool, n=SIZES):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, (images, labels) in NAMES.items():
        x = rng.integers(0, 256, (n[split], 28, 28), dtype=np.uint8)
        y = (np.arange(n[split]) * 3 % 10).astype(np.uint8)
        suffix = '.gz' if gz else ''
        write_idx(str(root / (images + suffix)), x)
        write_idx(str(root / (labels + suffix)), y)
        arrays[split] = (x, y)
    return arrays


def test_idx_header_written_by_hand_is_read(tmp_path):
    # Two zero bytes, type 0x08, 2 dimensions (2 x 3), then six values.
    raw = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
    path = tmp_path / 'a-idx2-ubyte.gz'
    with gzip.open(path, 'wb') as f:
        f.write(raw)
    np.testing.assert_array_equal(read_idx(str(path)), [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize('gz', [True, False])
def test_both_splits_round_trip(tmp_path, gz):
    arrays = make_root(tmp_path, gz)
    for split, (x, y) in arrays.items():
        images, labels = load_fashion_mnist(str(tmp_path), split)
        np.testing.assert_array_equal(images, x)
        np.testing.assert_array_equal(labels, y)
        assert labels.dtype == np.int64


def test_bad_header_and_truncated_file_are_named(tmp_path):
    bad = tmp_path / 'bad'
    bad.write_bytes(bytes([1, 2, 3, 4]))
    with pytest.raises(ValueError, match="'.*bad' is not an idx file"):
        read_idx(str(bad))
    short = tmp_path / 'short'
    short.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    with pytest.raises(ValueError, match=r'shape \(5,\) \(5 values\).*2'):
        read_idx(str(short))


def test_missing_files_name_the_path_and_the_package(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_fashion_mnist(str(tmp_path / 'none'), 'test')
    text = str(error.value)
    assert 't10k-images-idx3-ubyte' in text and str(tmp_path) in text
    assert f'apt-get install {APT_PACKAGE}' in text


def test_label_out_of_range_is_refused(tmp_path):
    make_root(tmp_path, gz=True)
    write_idx(str(tmp_path / 't10k-labels-idx1-ubyte.gz'), np.full(5, 10))
    with pytest.raises(ValueError, match='label 10'):
        load_fashion_mnist(str(tmp_path), 'test')


def test_dataset_through_a_stock_pipeline(tmp_path):
    arrays = make_root(tmp_path, gz=True)
    dataset = FashionMNISTDataset(
        data_root=str(tmp_path),
        split='train',
        num_samples=7,
        pipeline=[dict(type='PackInputs')],
    )
    assert len(dataset) == 7
    assert dataset.metainfo['classes'][9] == 'Ankle boot'
    sample = dataset[4]
    assert tuple(sample['inputs'].shape) == (1, 28, 28)
    np.testing.assert_array_equal(sample['inputs'][0], arrays['train'][0][4])
    assert int(sample['data_samples'].gt_label) == 4 * 3 % 10


def test_data_root_from_the_environment(tmp_path, monkeypatch):
    make_root(tmp_path, gz=False)
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    assert len(FashionMNISTDataset(split='test')) == 5
    with pytest.raises(ValueError, match='num_samples must be >= 1'):
        FashionMNISTDataset(split='test', num_samples=0)


def test_available_needs_all_four_files(tmp_path, monkeypatch):
    from bikd_mm.datasets.fashion_mnist import fashion_mnist_available

    from .fashion_mnist_files import FILES, write_fashion_mnist

    monkeypatch.delenv('BIKD_FASHION_MNIST', raising=False)
    assert not fashion_mnist_available(str(tmp_path))
    write_fashion_mnist(str(tmp_path), per_class=1)
    assert fashion_mnist_available(str(tmp_path))
    monkeypatch.setenv('BIKD_FASHION_MNIST', str(tmp_path))
    assert fashion_mnist_available()
    (tmp_path / FILES['test'][1]).unlink()
    assert not fashion_mnist_available(str(tmp_path))
