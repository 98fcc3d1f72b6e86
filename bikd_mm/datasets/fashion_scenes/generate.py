"""Deterministic segmentation scenes composed of Fashion-MNIST items.

Every scene is an RGB canvas (96x96 by default) on a mild background: a
smooth colour texture of low amplitude. It holds 1 to 4 Fashion-MNIST
items, drawn from the Fashion-MNIST train split for the train scenes and
from its test split for the test scenes, so no item appears in both. Each
item is upscaled bilinearly by a random factor (0.8 to 1.5 by default, a
side of 22 to 42 pixels), placed at a random position inside the canvas
and painted in a random tint that contrasts with the background under it,
shaded by the item's own intensities. Items may overlap: a later item
covers an earlier one. The whole canvas gets mild Gaussian noise.

Labels: an item covers the pixels where its upscaled intensity is above
``mask_threshold`` (0 to 255); there the label is the item's class + 1
(classes ``background`` and the 10 :data:`FASHION_CLASSES`); elsewhere it
is 0 (background). With ``ignore_width`` w > 0, every item pixel that has
a pixel of another label within w pixels (a (2w+1) x (2w+1) square) gets
:data:`IGNORE_INDEX` (255): a ring of w pixels on the inner side of each
item's visible border, also where one item covers another. The canvas edge
is no border. ``ignore_width=0`` gives clean labels.

Layout of a generated dataset::

    <root>/img_dir/{train,test}/00000.png    RGB scenes (mmseg layout)
    <root>/ann_dir/{train,test}/00000.png    single-channel labels
    <root>/arrays/<split>_images.npy         (N, H, W, 3) uint8, RGB
    <root>/arrays/<split>_labels.npy         (N, H, W) uint8
    <root>/arrays/<split>_items.npy          (N, max items, 6) int32
    <root>/meta.json

The ``.npy`` arrays hold the same pixels as the PNG files and are read
memory-mapped, so a dataset starts without decoding any image.
``<split>_items.npy`` records, per scene and item in drawing order, the
Fashion-MNIST index, the class, the top row, the left column, the side and
the drawing order; unused slots are -1. ``meta.json`` records the
generator version, the options and the counts, and is written last.

Generation is deterministic: equal options give byte-identical files on a
given platform and library build. Each split draws its items from its own
seeded stream and each scene from its own seeded generator, so changing
``num_train`` leaves the test scenes untouched. Datasets appear atomically
(:func:`bikd_mm.datasets.digits.storage.publish_atomically`): a cache that
is being written, or whose writer was killed, is never taken as complete.
"""

import hashlib
import json
import os
import os.path as osp
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import cv2
import numpy as np

from ..digits.storage import (
    DATA_ROOT_ENV,
    count_files,
    dump_meta,
    is_empty_dir,
    publish_atomically,
    read_meta,
)
from ..fashion_mnist import FASHION_CLASSES, load_fashion_mnist

VERSION = 1
NAME = 'fashion_scenes'
SPLITS = ('train', 'test')
SCENE_CLASSES = ('background',) + FASHION_CLASSES
IGNORE_INDEX = 255
#: Side of a Fashion-MNIST item in pixels.
ITEM_SIDE = 28
#: Columns of ``<split>_items.npy``.
ITEM_FIELDS = ('index', 'category', 'top', 'left', 'side', 'order')

DEFAULTS = dict(
    num_train=10000,
    num_test=2000,
    canvas_size=96,
    items_per_image=[1, 4],
    scale=[0.8, 1.5],
    mask_threshold=16,
    ignore_width=1,
    tint=True,
    noise_std=0.03,
    seed=0,
)
_INT_OPTIONS = (
    'num_train',
    'num_test',
    'canvas_size',
    'mask_threshold',
    'ignore_width',
    'seed',
)
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3]
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
# Shading of a tinted item: its darkest pixel keeps this share of the tint.
_SHADE_FLOOR = np.float32(0.35)


class Placement(NamedTuple):
    """One item as drawn on a scene.

    Args:
        image (np.ndarray): ``(28, 28)`` uint8 Fashion-MNIST intensities.
        category (int): Fashion-MNIST class in ``[0, 10)``.
        top (int): Row of the item's upper edge on the canvas.
        left (int): Column of the item's left edge on the canvas.
        side (int): Side of the upscaled item in pixels.
        colour (np.ndarray): RGB tint in [0, 1], shape ``(3,)``.
    """

    image: np.ndarray
    category: int
    top: int
    left: int
    side: int
    colour: np.ndarray


# --------------------------------------------------------------------------
# options and cache folder
# --------------------------------------------------------------------------
def scene_options(**overrides) -> dict:
    """Complete and check generation options.

    Args:
        **overrides: Options that differ from :data:`DEFAULTS`.

    Returns:
        dict: Every option, as JSON stores it (lists, ints, floats).

    Raises:
        TypeError: On an unknown option.
        ValueError: On an option outside its range.
    """
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise TypeError(
            f'unknown {NAME} options: {", ".join(unknown)}; known: '
            f'{", ".join(DEFAULTS)}'
        )
    opts = {**DEFAULTS, **overrides}
    for key in _INT_OPTIONS:
        opts[key] = int(opts[key])
    opts['items_per_image'] = [int(k) for k in opts['items_per_image']]
    opts['scale'] = [float(s) for s in opts['scale']]
    opts['tint'] = bool(opts['tint'])
    opts['noise_std'] = float(opts['noise_std'])
    if opts['num_train'] < 1 or opts['num_test'] < 1:
        raise ValueError(
            f'{NAME}: num_train and num_test must be positive, got '
            f'{opts["num_train"]} and {opts["num_test"]}'
        )
    kmin, kmax = opts['items_per_image']
    if not 1 <= kmin <= kmax:
        raise ValueError(
            f'{NAME}: items_per_image {opts["items_per_image"]} must '
            'satisfy 1 <= min <= max'
        )
    smin, smax = opts['scale']
    if not 0.25 <= smin <= smax or _side(smax) > opts['canvas_size']:
        raise ValueError(
            f'{NAME}: scale {opts["scale"]} must satisfy 0.25 <= min <= '
            f'max and {ITEM_SIDE} * max <= canvas_size '
            f'({opts["canvas_size"]})'
        )
    if not 0 <= opts['mask_threshold'] < 255:
        raise ValueError(
            f'{NAME}: mask_threshold must be in [0, 255), got '
            f'{opts["mask_threshold"]}'
        )
    if opts['ignore_width'] < 0:
        raise ValueError(
            f'{NAME}: ignore_width must be >= 0 (0: no ignore ring), got '
            f'{opts["ignore_width"]}'
        )
    if opts['noise_std'] < 0:
        raise ValueError(
            f'{NAME}: noise_std must be >= 0, got {opts["noise_std"]}'
        )
    return opts


def _side(scale: float) -> int:
    return max(1, int(round(ITEM_SIDE * scale)))


def fashion_scenes_root(**options) -> str:
    """Return the cache folder of the scenes generated with ``options``.

    ``$BIKD_DATA_ROOT/fashion_scenes_v<VERSION>_<hash>`` when the variable
    is set, else the same name under ``~/.cache/bikd_mm/data``; the hash
    is over every option, so each setting has its own folder. Nothing is
    created.

    Args:
        **options: Generation options of :func:`prepare_fashion_scenes`.

    Returns:
        str: Absolute path of the cache folder.
    """
    opts = scene_options(**options)
    digest = hashlib.sha1(
        json.dumps(opts, sort_keys=True).encode()
    ).hexdigest()[:8]
    base = os.environ.get(DATA_ROOT_ENV) or osp.join(
        osp.expanduser('~'), '.cache', 'bikd_mm', 'data'
    )
    return osp.abspath(osp.join(base, f'{NAME}_v{VERSION}_{digest}'))


# --------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------
def upscale_item(image: np.ndarray, side: int) -> np.ndarray:
    """Upscale one 28x28 item bilinearly.

    Args:
        image (np.ndarray): ``(28, 28)`` intensities (0 to 255).
        side (int): Output side in pixels.

    Returns:
        np.ndarray: ``float32`` intensities (0 to 255), ``(side, side)``.
    """
    item = np.asarray(image, np.float32)
    if item.shape[0] == side and item.shape[1] == side:
        return item.copy()
    return cv2.resize(item, (side, side), interpolation=cv2.INTER_LINEAR)


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A mild random colour texture, ``float32`` ``(size, size, 3)``."""
    base = rng.uniform(0.2, 0.8, 3).astype(np.float32)
    out = np.broadcast_to(base, (size, size, 3)).copy()
    for cells, amplitude in (
        (int(rng.integers(2, 6)), 0.08),
        (int(rng.integers(8, 17)), 0.04),
    ):
        grid = rng.normal(0.0, 1.0, (cells, cells, 3)).astype(np.float32)
        smooth = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
        out += smooth * np.float32(rng.uniform(0.5, 1.0) * amplitude)
    return np.clip(out, 0.0, 1.0)


def _contrasting_colour(
    rng: np.random.Generator, under: np.ndarray
) -> np.ndarray:
    """A random colour whose luma differs from ``under``'s by >= 0.3."""
    under_luma = float(under @ _LUMA)
    for _ in range(100):
        colour = rng.uniform(0.0, 1.0, 3).astype(np.float32)
        if abs(float(colour @ _LUMA) - under_luma) >= 0.3:
            return colour
    return np.full(3, 0.0 if under_luma > 0.5 else 1.0, np.float32)


def ignore_ring(label: np.ndarray, width: int) -> np.ndarray:
    """The item pixels within ``width`` pixels of another label.

    Args:
        label (np.ndarray): ``(H, W)`` uint8 label map (0: background).
        width (int): Ring width in pixels; 0 gives an empty ring.

    Returns:
        np.ndarray: ``(H, W)`` bool mask of the ring (item pixels only).
    """
    if width <= 0:
        return np.zeros(label.shape, bool)
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    # Outside the canvas counts as the pixel's own label (OpenCV's default
    # border for erode and dilate), so the canvas edge is no border.
    low = cv2.erode(label, kernel)
    high = cv2.dilate(label, kernel)
    return (label > 0) & ((low != label) | (high != label))


def compose_scene(
    canvas: np.ndarray,
    placements: Sequence[Placement],
    mask_threshold: int = DEFAULTS['mask_threshold'],
    ignore_width: int = DEFAULTS['ignore_width'],
) -> tuple[np.ndarray, np.ndarray]:
    """Paint items on a canvas and label them, later items on top.

    An item covers the pixels where its upscaled intensity ``v`` is above
    ``mask_threshold``; there the canvas shows the item's colour shaded by
    ``0.35 + 0.65 * v / 255`` and the label is ``category + 1``.

    Args:
        canvas (np.ndarray): ``(H, W, 3)`` float RGB background in [0, 1].
        placements (Sequence[Placement]): Items in drawing order; each
            must lie inside the canvas.
        mask_threshold (int): Intensity (0 to 255) above which a pixel
            belongs to its item. Defaults to 16.
        ignore_width (int): Width of the ignore ring (see
            :func:`ignore_ring`); 0 for clean labels. Defaults to 1.

    Returns:
        tuple[np.ndarray, np.ndarray]: The painted ``float32`` canvas
        ``(H, W, 3)`` and the ``uint8`` label map ``(H, W)``.

    Raises:
        ValueError: If an item does not lie inside the canvas.
    """
    out = np.array(canvas, np.float32, copy=True)
    height, width = out.shape[:2]
    label = np.zeros((height, width), np.uint8)
    for k, item in enumerate(placements):
        top, left, side = item.top, item.left, item.side
        if top < 0 or left < 0 or top + side > height or left + side > width:
            raise ValueError(
                f'item {k} (top {top}, left {left}, side {side}) does not '
                f'lie inside the {height}x{width} canvas'
            )
        values = upscale_item(item.image, side)
        mask = values > mask_threshold
        shade = _SHADE_FLOOR + (1 - _SHADE_FLOOR) * values[mask] / 255.0
        window = out[top : top + side, left : left + side]
        window[mask] = shade[:, None] * np.asarray(item.colour, np.float32)
        label[top : top + side, left : left + side][mask] = item.category + 1
    label[ignore_ring(label, ignore_width)] = IGNORE_INDEX
    return out, label


def render_scene(
    rng: np.random.Generator,
    images: np.ndarray,
    categories: np.ndarray,
    sources: Sequence[int],
    options: dict,
) -> tuple[np.ndarray, np.ndarray, list[Placement]]:
    """Render one scene from its random stream.

    Args:
        rng (np.random.Generator): The scene's stream.
        images (np.ndarray): ``(N, 28, 28)`` uint8 items of the split.
        categories (np.ndarray): ``(N,)`` classes of the items.
        sources (Sequence[int]): Indices of the items to draw, in order.
        options (dict): Complete options (:func:`scene_options`).

    Returns:
        tuple: The ``uint8`` RGB scene ``(H, W, 3)``, the ``uint8`` label
        map ``(H, W)`` and the placements.
    """
    size = options['canvas_size']
    canvas = background(rng, size)
    smin, smax = options['scale']
    placements = []
    for index in sources:
        side = _side(rng.uniform(smin, smax))
        top = int(rng.integers(0, size - side + 1))
        left = int(rng.integers(0, size - side + 1))
        if options['tint']:
            under = canvas[top : top + side, left : left + side].mean((0, 1))
            colour = _contrasting_colour(rng, under)
        else:
            colour = np.ones(3, np.float32)
        placements.append(
            Placement(
                images[index], int(categories[index]), top, left, side, colour
            )
        )
    painted, label = compose_scene(
        canvas,
        placements,
        options['mask_threshold'],
        options['ignore_width'],
    )
    if options['noise_std'] > 0:
        painted += rng.normal(0.0, options['noise_std'], painted.shape).astype(
            np.float32
        )
    image = np.rint(np.clip(painted, 0.0, 1.0) * 255.0).astype(np.uint8)
    return image, label, placements


def _index_stream(rng: np.random.Generator, count: int) -> Iterator[int]:
    """Yield item indices, one shuffled pass over the split at a time."""
    while True:
        yield from (int(i) for i in rng.permutation(count))


def generate_split(
    images: np.ndarray,
    categories: np.ndarray,
    split: str,
    num_scenes: int,
    options: dict,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render the scenes of one split.

    Args:
        images (np.ndarray): ``(N, 28, 28)`` uint8 items of the split.
        categories (np.ndarray): ``(N,)`` classes of the items.
        split (str): ``'train'`` or ``'test'`` (selects the streams).
        num_scenes (int): Scenes to render.
        options (dict): Complete options (:func:`scene_options`).

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: ``(S, H, W, 3)`` RGB
        scenes, ``(S, H, W)`` labels and ``(S, max items, 6)`` item
        records (see :data:`ITEM_FIELDS`; unused slots -1).
    """
    if len(images) == 0:
        raise ValueError(f'{NAME}: the {split} split holds no item')
    code = SPLITS.index(split)
    seed = options['seed']
    size = options['canvas_size']
    kmin, kmax = options['items_per_image']
    stream = _index_stream(np.random.default_rng([seed, code]), len(images))
    scenes = np.empty((num_scenes, size, size, 3), np.uint8)
    labels = np.empty((num_scenes, size, size), np.uint8)
    items = np.full((num_scenes, kmax, len(ITEM_FIELDS)), -1, np.int32)
    for i in range(num_scenes):
        rng = np.random.default_rng([seed, code, i + 1])
        count = int(rng.integers(kmin, kmax + 1))
        sources = [next(stream) for _ in range(count)]
        scenes[i], labels[i], placed = render_scene(
            rng, images, categories, sources, options
        )
        for k, (index, item) in enumerate(zip(sources, placed)):
            items[i, k] = (
                index,
                item.category,
                item.top,
                item.left,
                item.side,
                k,
            )
    return scenes, labels, items


# --------------------------------------------------------------------------
# storage
# --------------------------------------------------------------------------
def array_path(root: str, split: str, kind: str) -> str:
    """Path of ``<root>/arrays/<split>_<kind>.npy`` (kind: images, labels,
    items)."""
    return osp.join(root, 'arrays', f'{split}_{kind}.npy')


def _imwrite(path: str, image: np.ndarray) -> None:
    if not cv2.imwrite(path, image, _PNG_PARAMS):
        raise OSError(f'could not write {path}')


def _write_scenes(out: str, options: dict, fashion_root: str | None) -> None:
    os.makedirs(osp.join(out, 'arrays'))
    splits = {}
    for split in SPLITS:
        images, categories = load_fashion_mnist(fashion_root, split)
        num = options[f'num_{split}']
        scenes, labels, items = generate_split(
            images, categories, split, num, options
        )
        img_dir = osp.join(out, 'img_dir', split)
        ann_dir = osp.join(out, 'ann_dir', split)
        os.makedirs(img_dir)
        os.makedirs(ann_dir)
        for i in range(num):
            name = f'{i:05d}.png'
            # OpenCV writes BGR; flip so the files hold the RGB scene.
            _imwrite(osp.join(img_dir, name), scenes[i][..., ::-1])
            _imwrite(osp.join(ann_dir, name), labels[i])
        for kind, array in (
            ('images', scenes),
            ('labels', labels),
            ('items', items),
        ):
            np.save(array_path(out, split, kind), array)
        splits[split] = dict(num_images=num, num_source_items=len(images))
    dump_meta(
        dict(
            name=NAME,
            version=VERSION,
            source='Fashion-MNIST (Zalando Research, MIT licence)',
            options=options,
            classes=list(SCENE_CLASSES),
            ignore_index=IGNORE_INDEX,
            item_fields=list(ITEM_FIELDS),
            splits=splits,
        ),
        out,
    )


def _npy_shape(path: str) -> tuple | None:
    try:
        return np.load(path, mmap_mode='r').shape
    except (OSError, ValueError):
        return None


def is_complete_fashion_scenes(root: str) -> bool:
    """Whether ``root`` holds a complete generated scenes dataset.

    Args:
        root (str): Dataset folder.

    Returns:
        bool: True when ``meta.json`` is readable and names this dataset,
        and every split has the PNG files and arrays it records.
    """
    meta = read_meta(root)
    if meta is None or meta.get('name') != NAME:
        return False
    size = meta.get('options', {}).get('canvas_size')
    for split in SPLITS:
        num = meta.get('splits', {}).get(split, {}).get('num_images')
        if not isinstance(num, int):
            return False
        for kind in ('img_dir', 'ann_dir'):
            if count_files(osp.join(root, kind, split), '.png') != num:
                return False
        if _npy_shape(array_path(root, split, 'images')) != (
            num,
            size,
            size,
            3,
        ) or _npy_shape(array_path(root, split, 'labels')) != (
            num,
            size,
            size,
        ):
            return False
        if (_npy_shape(array_path(root, split, 'items')) or (None,))[0] != num:
            return False
    return True


def prepare_fashion_scenes(
    root: str | None = None, fashion_root: str | None = None, **options
) -> str:
    """Generate the scenes unless they are already there.

    Args:
        root (str, optional): Dataset folder. None means the cache folder
            (:func:`fashion_scenes_root`). Defaults to None.
        fashion_root (str, optional): Folder of the Fashion-MNIST idx
            files (see :func:`bikd_mm.datasets.fashion_mnist.
            fashion_mnist_root`). Read only when generating. Defaults to
            None.
        **options: Generation options, defaults :data:`DEFAULTS`:
            ``num_train`` (10000) and ``num_test`` (2000) scenes,
            ``canvas_size`` (96), ``items_per_image`` (inclusive range,
            [1, 4]), ``scale`` (range of the upscaling factor, [0.8,
            1.5]), ``mask_threshold`` (16), ``ignore_width`` (1; 0 for
            clean labels), ``tint`` (True; False paints items white),
            ``noise_std`` (0.03) and ``seed`` (0).

    Returns:
        str: Absolute path of the dataset folder.

    Raises:
        FileNotFoundError: A Fashion-MNIST file is missing (the message
            names the path and the package that installs it).
        FileExistsError: ``root`` holds something other than a complete
            scenes dataset.
        ValueError: ``root`` holds scenes generated with other options or
            by another generator version.
    """
    opts = scene_options(**options)
    if root is None:
        root = fashion_scenes_root(**opts)
    root = osp.abspath(osp.expanduser(root))
    if not is_complete_fashion_scenes(root):
        if osp.lexists(root) and not is_empty_dir(root):
            raise FileExistsError(
                f"'{root}' exists but is not a complete {NAME} dataset "
                '(its meta.json, some PNG files or arrays are missing). '
                'Delete it to have it generated again, or choose another '
                'folder.'
            )
        publish_atomically(
            root,
            lambda out: _write_scenes(out, opts, fashion_root),
            is_complete_fashion_scenes,
        )
    check_options(root, opts)
    return root


def check_options(root: str, options: dict) -> None:
    """Refuse a dataset generated with other options or version.

    Args:
        root (str): A complete dataset folder.
        options (dict): Complete options (:func:`scene_options`).

    Raises:
        ValueError: Naming each option that differs.
    """
    meta = read_meta(root) or {}
    found = dict(version=meta.get('version'), **meta.get('options', {}))
    wanted = dict(version=VERSION, **options)
    diff = {
        k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v
    }
    if diff:
        details = ', '.join(
            f'{k}: found {a!r}, wanted {b!r}'
            for k, (a, b) in sorted(diff.items())
        )
        raise ValueError(
            f"'{root}' holds a {NAME} dataset generated differently "
            f'({details}). Delete it to have it generated again, or choose '
            'another folder.'
        )
