import json
import os
import os.path as osp
import threading

import cv2
import numpy as np
import pytest
from scipy import ndimage

from bikd_mm.datasets.digits import (
    CLS_CLASSES,
    SEG_VERSION,
    TRAIN_RANGE,
    VAL_RANGE,
    digits_cls_root,
    digits_seg_root,
    generate,
    load_digit_source,
    prepare_digits_cls,
    prepare_digits_seg,
)
from bikd_mm.datasets.digits.storage import publish_atomically

SMALL_SEG = dict(num_train=16, num_val=8)


def _read_tree(root):
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


def _labels(root, split):
    folder = osp.join(root, 'ann_dir', split)
    return [
        cv2.imread(osp.join(folder, name), cv2.IMREAD_UNCHANGED)
        for name in sorted(os.listdir(folder))
    ]


def test_seg_same_seed_is_byte_identical(tmp_path, seg_root):
    again = prepare_digits_seg(str(tmp_path / 'again'), **SMALL_SEG)
    assert _read_tree(again) == _read_tree(seg_root)


def test_seg_other_seed_differs(tmp_path, seg_root):
    other = _read_tree(
        prepare_digits_seg(str(tmp_path / 'other'), seed=1, **SMALL_SEG)
    )
    reference = _read_tree(seg_root)
    assert other.keys() == reference.keys()
    images = [k for k in reference if k.startswith('img_dir')]
    assert all(other[k] != reference[k] for k in images)


def test_seg_val_does_not_depend_on_train_count(tmp_path, seg_root):
    fewer = prepare_digits_seg(
        str(tmp_path / 'fewer'), num_train=4, num_val=SMALL_SEG['num_val']
    )
    for kind in ('img_dir', 'ann_dir'):
        name = osp.join(kind, 'val')
        assert _read_tree(osp.join(fewer, name)) == _read_tree(
            osp.join(seg_root, name)
        )
        # Train canvases are a prefix of the longer run.
        short = _read_tree(osp.join(fewer, kind, 'train'))
        long = _read_tree(osp.join(seg_root, kind, 'train'))
        assert short == {k: long[k] for k in short}


def test_seg_layout(seg_root):
    assert sorted(os.listdir(seg_root)) == ['ann_dir', 'img_dir', 'meta.json']
    with open(osp.join(seg_root, 'meta.json')) as f:
        meta = json.load(f)
    assert meta['version'] == SEG_VERSION
    assert meta['options']['seed'] == 0
    for split, count in (('train', 16), ('val', 8)):
        names = sorted(os.listdir(osp.join(seg_root, 'img_dir', split)))
        assert names == [f'{i:05d}.png' for i in range(count)]
        assert (
            sorted(os.listdir(osp.join(seg_root, 'ann_dir', split))) == names
        )
        assert meta['splits'][split]['num_images'] == count
        for name in names:
            img = cv2.imread(
                osp.join(seg_root, 'img_dir', split, name),
                cv2.IMREAD_UNCHANGED,
            )
            ann = cv2.imread(
                osp.join(seg_root, 'ann_dir', split, name),
                cv2.IMREAD_UNCHANGED,
            )
            assert img.shape == (64, 64, 3) and img.dtype == np.uint8
            assert ann.shape == (64, 64) and ann.dtype == np.uint8


def test_seg_label_values(seg_root):
    allowed = set(range(11)) | {255}
    for split in ('train', 'val'):
        for label in _labels(seg_root, split):
            values = set(np.unique(label).tolist())
            assert values <= allowed
            assert values & set(range(1, 11)), 'every canvas holds a digit'


def test_seg_labels_match_sources(seg_root):
    _, targets = load_digit_source()
    with open(osp.join(seg_root, 'meta.json')) as f:
        meta = json.load(f)
    for split in ('train', 'val'):
        sources = meta['splits'][split]['sources']
        for label, placed in zip(_labels(seg_root, split), sources):
            assert 1 <= len(placed) <= 4
            digits = set(np.unique(label).tolist()) - {0, 255}
            assert digits <= {int(targets[i]) + 1 for i in placed}


def test_seg_ignore_ring_surrounds_digits(seg_root):
    border_total = border_ignored = 0
    for label in _labels(seg_root, 'train'):
        digit = (label > 0) & (label < 255)
        assert (label == 255).any()
        border = ndimage.binary_dilation(digit) & ~digit
        border_total += int(border.sum())
        border_ignored += int((label[border] == 255).sum())
        # Ignored pixels only appear next to digit strokes.
        near = ndimage.binary_dilation(digit, iterations=4)
        assert (label[~near] != 255).mean() > 0.99
    assert border_ignored / border_total > 0.8


def test_seg_ring_follows_thresholds():
    images, targets = load_digit_source()
    # A canvas exactly one digit wide pins the digit box to the canvas.
    options = dict(generate.SEG_DEFAULTS, canvas_size=20, digit_size=[20, 20])
    _, label, placed = generate.render_seg_canvas(
        np.random.default_rng(0), [3], options
    )
    assert placed == [3]
    alpha = generate.upscale_digit(images[3], 20)
    expected = np.zeros((20, 20), np.uint8)
    expected[alpha >= generate.RING_HIGH] = targets[3] + 1
    ring = (alpha > generate.RING_LOW) & (alpha < generate.RING_HIGH)
    expected[ring] = 255
    assert ring.any()
    np.testing.assert_array_equal(label, expected)


def test_splits_use_disjoint_sources(seg_root, cls_root):
    with open(osp.join(seg_root, 'meta.json')) as f:
        splits = json.load(f)['splits']
    used = {}
    for split, (start, stop) in (('train', TRAIN_RANGE), ('val', VAL_RANGE)):
        used[split] = {i for ids in splits[split]['sources'] for i in ids}
        assert splits[split]['index_range'] == [start, stop]
        assert all(start <= i < stop for i in used[split])
    assert not used['train'] & used['val']
    assert TRAIN_RANGE[1] <= VAL_RANGE[0]

    _, targets = load_digit_source()
    cls_used = {}
    for split in ('train', 'val'):
        cls_used[split] = set()
        for digit in CLS_CLASSES:
            for name in os.listdir(osp.join(cls_root, split, digit)):
                index = int(osp.splitext(name)[0])
                assert targets[index] == int(digit)
                cls_used[split].add(index)
    assert cls_used['train'] == set(range(*TRAIN_RANGE))
    assert cls_used['val'] == set(range(*VAL_RANGE))


def test_cls_layout_and_determinism(tmp_path, cls_root):
    for split, (start, stop) in (('train', TRAIN_RANGE), ('val', VAL_RANGE)):
        assert sorted(os.listdir(osp.join(cls_root, split))) == list(
            CLS_CLASSES
        )
        count = sum(
            len(os.listdir(osp.join(cls_root, split, d))) for d in CLS_CLASSES
        )
        assert count == stop - start
    folder = osp.join(cls_root, 'val', '7')
    img = cv2.imread(
        osp.join(folder, sorted(os.listdir(folder))[0]), cv2.IMREAD_UNCHANGED
    )
    assert img.shape == (32, 32) and img.dtype == np.uint8
    assert img.max() > 200 and img[0].max() == 0
    again = prepare_digits_cls(str(tmp_path / 'again'))
    assert _read_tree(again) == _read_tree(cls_root)


def test_failed_generation_leaves_nothing(tmp_path, monkeypatch):
    written = []
    real_imwrite = generate._imwrite

    def failing_imwrite(path, image):
        if len(written) == 5:
            raise OSError('disk full')
        written.append(path)
        real_imwrite(path, image)

    monkeypatch.setattr(generate, '_imwrite', failing_imwrite)
    root = tmp_path / 'digits_seg'
    with pytest.raises(OSError, match='disk full'):
        prepare_digits_seg(str(root), **SMALL_SEG)
    assert len(written) == 5
    assert not root.exists()
    assert os.listdir(tmp_path) == []


def test_existing_dataset_is_reused(seg_root, monkeypatch):
    def no_write(out, options):
        raise AssertionError('regenerated a complete dataset')

    monkeypatch.setattr(generate, '_write_digits_seg', no_write)
    assert prepare_digits_seg(seg_root, **SMALL_SEG) == seg_root


def test_other_options_are_refused(seg_root):
    with pytest.raises(ValueError, match='num_train: found 16, wanted 300'):
        prepare_digits_seg(seg_root)


def test_incomplete_root_is_refused(tmp_path):
    root = tmp_path / 'digits_seg'
    (root / 'img_dir' / 'train').mkdir(parents=True)
    with pytest.raises(FileExistsError, match=str(root)):
        prepare_digits_seg(str(root), **SMALL_SEG)


def test_empty_root_is_filled(tmp_path, seg_root):
    root = tmp_path / 'digits_seg'
    root.mkdir()
    assert prepare_digits_seg(str(root), **SMALL_SEG) == str(root)
    assert _read_tree(str(root)) == _read_tree(seg_root)


def test_losing_the_publish_race_keeps_the_winner(tmp_path, seg_root):
    def build(out):
        prepare_digits_seg(str(root), **SMALL_SEG)
        open(osp.join(out, 'loser'), 'w').close()

    root = tmp_path / 'digits_seg'
    publish_atomically(str(root), build, generate.is_complete_digits_seg)
    assert _read_tree(str(root)) == _read_tree(seg_root)
    assert os.listdir(tmp_path) == ['digits_seg']


def test_concurrent_callers(tmp_path, seg_root):
    root = str(tmp_path / 'digits_seg')
    results, errors = [], []

    def call():
        try:
            results.append(prepare_digits_seg(root, **SMALL_SEG))
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [root] * 3
    assert _read_tree(root) == _read_tree(seg_root)
    assert os.listdir(tmp_path) == ['digits_seg']


def test_default_roots(monkeypatch, tmp_path):
    monkeypatch.setenv('BIKD_DATA_ROOT', str(tmp_path / 'env'))
    assert digits_seg_root() == str(tmp_path / 'env' / 'digits_seg')
    assert digits_cls_root() == str(tmp_path / 'env' / 'digits_cls')
    custom = digits_seg_root(seed=3)
    assert custom.startswith(digits_seg_root() + '-')
    assert digits_seg_root(seed=3) == custom != digits_seg_root(seed=4)

    monkeypatch.delenv('BIKD_DATA_ROOT')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    cache = tmp_path / 'home' / '.cache' / 'bikd_mm' / 'data'
    assert digits_seg_root() == str(cache / f'digits_seg_v{SEG_VERSION}')


def test_unknown_and_invalid_options():
    with pytest.raises(TypeError, match='colour'):
        digits_seg_root(colour=1)
    with pytest.raises(ValueError, match='digit_size'):
        digits_seg_root(digit_size=(16, 80))


def test_prepare_uses_cache_by_default(isolated_cache):
    root = prepare_digits_seg(num_train=2, num_val=1)
    assert root.startswith(str(isolated_cache / 'digits_seg'))
    assert generate.is_complete_digits_seg(root)
