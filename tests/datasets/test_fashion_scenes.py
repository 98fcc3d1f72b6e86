"""Fashion scenes: generation, labels, cache and the mmseg dataset.

Every test reads small synthetic idx files written with ``write_idx``
into a temporary folder, never the installed Fashion-MNIST files.
"""

import filecmp
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

from bikd_mm.datasets import FashionScenesDataset
from bikd_mm.datasets.fashion_scenes import (
    IGNORE_INDEX,
    SCENE_CLASSES,
    Placement,
    array_path,
    compose_scene,
    fashion_scenes_root,
    prepare_fashion_scenes,
)
from bikd_mm.datasets.fashion_scenes import generate as gen

from .fashion_mnist_files import MARKERS, item_image, write_fashion_mnist

# Items at their own size (no resampling), untinted and without noise, so
# each item pixel has one known value.
EXACT = dict(scale=[1.0, 1.0], tint=False, noise_std=0.0)
SMALL = dict(num_train=12, num_test=6, canvas_size=64)


def shade(value: int) -> int:
    """The painted value of an untinted item pixel of intensity value."""
    return int(np.rint(255 * (0.35 + 0.65 * value / 255)))


@pytest.fixture
def fashion_root(tmp_path):
    root = tmp_path / 'fashion-mnist'
    root.mkdir()
    return write_fashion_mnist(str(root))


def read_split(root: str, split: str) -> tuple[np.ndarray, ...]:
    return tuple(
        np.load(array_path(root, split, kind))
        for kind in ('images', 'labels', 'items')
    )


def test_one_item_labels_and_pixels_by_hand():
    canvas = np.full((40, 50, 3), 0.5, np.float32)
    colour = np.array([1.0, 0.5, 0.0], np.float32)
    item = Placement(item_image(200), 3, 5, 12, 28, colour)
    painted, label = compose_scene(canvas, [item], 16, ignore_width=1)
    # The 20x16 block of the item sits at rows 5+4..5+24, cols 12+6..12+22.
    expected = np.zeros((40, 50), np.uint8)
    expected[9:29, 18:34] = IGNORE_INDEX
    expected[10:28, 19:33] = 3 + 1
    np.testing.assert_array_equal(label, expected)
    want = np.full((40, 50, 3), 0.5, np.float32)
    want[9:29, 18:34] = (0.35 + 0.65 * 200 / 255) * colour
    np.testing.assert_allclose(painted, want, rtol=1e-6)
    # Without the ring the whole block is the item.
    _, clean = compose_scene(canvas, [item], 16, ignore_width=0)
    expected[9:29, 18:34] = 4
    np.testing.assert_array_equal(clean, expected)


def test_later_item_on_top_and_wider_ring():
    canvas = np.zeros((60, 60, 3), np.float32)
    white = np.ones(3, np.float32)
    first = Placement(item_image(255), 0, 0, 0, 28, white)
    second = Placement(item_image(255), 7, 10, 8, 28, white)
    _, label = compose_scene(canvas, [first, second], 16, ignore_width=0)
    # first covers rows 4..24 x cols 6..22, second rows 14..34 x 14..30.
    assert label[10, 10] == 1
    assert label[20, 18] == 8  # the overlap shows the later item
    assert label[30, 25] == 8
    assert label[40, 40] == 0
    _, ringed = compose_scene(canvas, [first, second], 16, ignore_width=2)
    ring = ringed == IGNORE_INDEX
    # Two pixels on the inner side of every visible border, none outside.
    assert ring[14:16, 14:30].all() and ring[4:6, 6:22].all()
    assert not ring[label == 0].any()
    assert (ringed[~ring] == label[~ring]).all()
    assert ringed[20, 22] == 8 and ringed[8, 10] == 1


def test_ignore_ring_leaves_the_canvas_edge_alone():
    canvas = np.zeros((28, 28, 3), np.float32)
    full = Placement(np.full((28, 28), 255, np.uint8), 2, 0, 0, 28, np.ones(3))
    _, label = compose_scene(canvas, [full], 16, ignore_width=1)
    assert (label == 3).all()


def test_train_scenes_use_only_train_items(fashion_root):
    root = prepare_fashion_scenes(
        None, fashion_root, **SMALL, **EXACT, items_per_image=[2, 3]
    )
    for split, (value, classes) in MARKERS.items():
        images, labels, items = read_split(root, split)
        allowed = {0, IGNORE_INDEX} | {c + 1 for c in classes}
        assert set(np.unique(labels)) <= allowed
        item = (labels > 0) & (labels != IGNORE_INDEX)
        assert item.any()
        # Every visible item pixel has the split's marker value.
        assert (images[item] == shade(value)).all()
        used = items[..., 0][items[..., 0] >= 0]
        assert used.max() < 20 and set(items[..., 1][items[..., 1] >= 0]) <= (
            set(classes)
        )


def test_labels_are_the_item_class_where_the_item_is(fashion_root):
    root = prepare_fashion_scenes(
        None, fashion_root, **SMALL, **EXACT, items_per_image=[1, 1]
    )
    images, labels, items = read_split(root, 'test')
    for scene in range(len(labels)):
        index, category, top, left, side, order = items[scene, 0]
        assert side == 28 and order == 0
        expected = np.zeros((64, 64), np.uint8)
        expected[top + 4 : top + 24, left + 6 : left + 22] = IGNORE_INDEX
        expected[top + 5 : top + 23, left + 7 : left + 21] = category + 1
        np.testing.assert_array_equal(labels[scene], expected)


def test_same_seed_same_bytes_other_seed_other_scenes(fashion_root, tmp_path):
    a = prepare_fashion_scenes(str(tmp_path / 'a'), fashion_root, **SMALL)
    b = prepare_fashion_scenes(str(tmp_path / 'b'), fashion_root, **SMALL)
    c = prepare_fashion_scenes(
        str(tmp_path / 'c'), fashion_root, **SMALL, seed=1
    )
    files = []
    for folder, _, names in os.walk(a):
        files += [osp.relpath(osp.join(folder, n), a) for n in names]
    assert len(files) == 2 * (12 + 6) + 6 + 1
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert not mismatch and not errors
    for split in ('train', 'test'):
        assert not np.array_equal(
            read_split(a, split)[0], read_split(c, split)[0]
        )
    # The PNG files hold the arrays' pixels.
    import cv2

    png = cv2.imread(osp.join(a, 'img_dir', 'test', '00003.png'))[..., ::-1]
    ann = cv2.imread(osp.join(a, 'ann_dir', 'test', '00003.png'), 0)
    images, labels, _ = read_split(a, 'test')
    np.testing.assert_array_equal(png, images[3])
    np.testing.assert_array_equal(ann, labels[3])


def test_ring_option_changes_only_the_ring(fashion_root, tmp_path):
    ringed = prepare_fashion_scenes(str(tmp_path / 'r'), fashion_root, **SMALL)
    clean = prepare_fashion_scenes(
        str(tmp_path / 'c'), fashion_root, **SMALL, ignore_width=0
    )
    images_r, labels_r, _ = read_split(ringed, 'train')
    images_c, labels_c, _ = read_split(clean, 'train')
    np.testing.assert_array_equal(images_r, images_c)
    ring = labels_r == IGNORE_INDEX
    assert ring.any() and not (labels_c == IGNORE_INDEX).any()
    assert (labels_c[ring] > 0).all()
    np.testing.assert_array_equal(labels_r[~ring], labels_c[~ring])


def test_counts_classes_and_cache_folder(fashion_root):
    cfg = dict(SMALL, num_test=5)
    train = FashionScenesDataset(fashion_root=fashion_root, generate_cfg=cfg)
    test = FashionScenesDataset(
        'test', fashion_root=fashion_root, generate_cfg=cfg
    )
    assert (len(train), len(test)) == (12, 5)
    assert train.metainfo['classes'] == SCENE_CLASSES
    assert len(SCENE_CLASSES) == 11 and len(train.metainfo['palette']) == 11
    root = fashion_scenes_root(**cfg)
    assert train.data_root == root == test.data_root
    assert osp.basename(root).startswith('fashion_scenes_v1_')
    assert osp.dirname(root) == os.environ['BIKD_DATA_ROOT']
    assert fashion_scenes_root(**cfg, seed=3) != root
    for split, num in (('train', 12), ('test', 5)):
        assert len(os.listdir(osp.join(root, 'img_dir', split))) == num
        assert len(os.listdir(osp.join(root, 'ann_dir', split))) == num


def test_second_construction_reuses_the_cache(fashion_root, monkeypatch):
    first = FashionScenesDataset(fashion_root=fashion_root, generate_cfg=SMALL)
    sample = first.get_data_info(4)

    def refuse(*args, **kwargs):
        raise AssertionError('the cache was generated again')

    monkeypatch.setattr(gen, '_write_scenes', refuse)
    again = FashionScenesDataset(fashion_root=fashion_root, generate_cfg=SMALL)
    np.testing.assert_array_equal(again.get_data_info(4)['img'], sample['img'])
    # Other options: another folder, generated anew.
    with pytest.raises(AssertionError, match='generated again'):
        FashionScenesDataset(
            fashion_root=fashion_root, generate_cfg=dict(SMALL, seed=5)
        )


def test_failed_generation_leaves_no_cache(fashion_root, monkeypatch):
    real = gen.generate_split

    def fail_on_test(images, categories, split, *args):
        if split == 'test':
            raise RuntimeError('stopped half-way')
        return real(images, categories, split, *args)

    monkeypatch.setattr(gen, 'generate_split', fail_on_test)
    with pytest.raises(RuntimeError, match='half-way'):
        FashionScenesDataset(fashion_root=fashion_root, generate_cfg=SMALL)
    root = fashion_scenes_root(**SMALL)
    assert not osp.exists(root)
    assert not os.listdir(osp.dirname(root))
    monkeypatch.setattr(gen, 'generate_split', real)
    assert (
        len(
            FashionScenesDataset(fashion_root=fashion_root, generate_cfg=SMALL)
        )
        == 12
    )


def test_incomplete_folder_is_refused_by_name(fashion_root, tmp_path):
    root = prepare_fashion_scenes(str(tmp_path / 's'), fashion_root, **SMALL)
    os.remove(osp.join(root, 'ann_dir', 'train', '00007.png'))
    with pytest.raises(FileNotFoundError, match='not a complete') as info:
        FashionScenesDataset(data_root=root)
    assert root in str(info.value)


def test_missing_fashion_files_name_the_path(tmp_path):
    empty = tmp_path / 'nothing-here'
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as info:
        FashionScenesDataset(fashion_root=str(empty), generate_cfg=SMALL)
    message = str(info.value)
    assert 'FashionScenesDataset' in message
    assert str(empty / 'train-images-idx3-ubyte') in message
    assert 'dataset-fashion-mnist' in message


def test_options_are_checked():
    with pytest.raises(TypeError, match='unknown fashion_scenes options'):
        fashion_scenes_root(colour=True)
    with pytest.raises(ValueError, match='canvas_size'):
        fashion_scenes_root(canvas_size=32, scale=[1.0, 1.5])
    with pytest.raises(ValueError, match='split'):
        FashionScenesDataset('val')


def test_stock_mmseg_pipeline_shapes(fashion_root):
    init_default_scope('mmseg')
    train = DATASETS.build(
        dict(
            type='FashionScenesDataset',
            fashion_root=fashion_root,
            generate_cfg=SMALL,
            pipeline=[
                dict(type='RandomFlip', prob=1.0),
                dict(type='PhotoMetricDistortion'),
                dict(type='PackSegInputs'),
            ],
        )
    )
    sample = train[2]
    assert sample['inputs'].shape == (3, 64, 64)
    assert sample['inputs'].dtype == torch.uint8
    gt = sample['data_samples'].gt_sem_seg.data
    assert gt.shape == (1, 64, 64)
    # The flip reached the label map through seg_fields.
    _, labels, _ = read_split(train.data_root, 'train')
    np.testing.assert_array_equal(gt[0].numpy(), labels[2][:, ::-1])
    assert sample['data_samples'].flip

    files = DATASETS.build(
        dict(
            type='FashionScenesDataset',
            split='test',
            fashion_root=fashion_root,
            generate_cfg=SMALL,
            in_memory=False,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations'),
                dict(type='PackSegInputs'),
            ],
        )
    )
    arrays = DATASETS.build(
        dict(
            type='FashionScenesDataset',
            split='test',
            fashion_root=fashion_root,
            generate_cfg=SMALL,
            pipeline=[dict(type='PackSegInputs')],
        )
    )
    batch = pseudo_collate([files[0], files[1]])
    for i in range(2):
        assert torch.equal(files[i]['inputs'], arrays[i]['inputs'])
        assert torch.equal(
            files[i]['data_samples'].gt_sem_seg.data,
            arrays[i]['data_samples'].gt_sem_seg.data,
        )
    preprocessor = MODELS.build(
        dict(type='SegDataPreProcessor', bgr_to_rgb=True, size=(64, 64))
    )
    out = preprocessor(batch)
    assert out['inputs'].shape == (2, 3, 64, 64)
    # BGR in the pipeline, as LoadImageFromFile gives: the preprocessor's
    # flip gives back the stored RGB.
    images, _, _ = read_split(arrays.data_root, 'test')
    np.testing.assert_array_equal(
        out['inputs'][1].permute(1, 2, 0).numpy(), images[1]
    )
    with pytest.raises(ValueError, match='LoadImageFromFile'):
        DATASETS.build(
            dict(
                type='FashionScenesDataset',
                fashion_root=fashion_root,
                generate_cfg=SMALL,
                pipeline=[dict(type='LoadImageFromFile')],
            )
        )
