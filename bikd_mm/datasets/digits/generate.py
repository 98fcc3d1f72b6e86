"""Deterministic demo datasets built from scikit-learn's handwritten digits.

The source is ``sklearn.datasets.load_digits``: 1797 real 8x8 scans (values
0..16) of handwritten digits, shipped inside scikit-learn, so nothing is
downloaded. Two datasets are derived from it, both written as PNG files:

``digits_seg`` (semantic segmentation, mmseg folder layout)::

    <root>/img_dir/{train,val}/00000.png   RGB canvases, 64x64 by default
    <root>/ann_dir/{train,val}/00000.png   single-channel labels
    <root>/meta.json

  Every canvas is a random smooth colour texture holding 2 to 4 digits.
  Each digit is padded by one empty pixel, upscaled bilinearly to a random
  side of 16 to 24 pixels, alpha-blended in a colour that contrasts with
  the texture under it, and the whole canvas gets Gaussian noise. Digits
  never overlap: their square boxes are placed by rejection sampling, and a
  digit that finds no free place after a few tries is left out, so labels
  stay unambiguous (no occlusion). Labels are ``digit + 1`` (classes
  ``background, 0, ..., 9``) where the upscaled intensity is at least
  ``RING_HIGH``, 0 (background) where it is at most ``RING_LOW``, and
  ``IGNORE_INDEX`` (255) on the blurred ring in between, where a pixel is
  neither clearly digit nor clearly background. ``meta.json`` records the
  generator version, the options (seed included), the image counts, the
  source index ranges and, for canvas ``i`` of each split, the source
  indices of the digits it holds.

``digits_cls`` (classification, mmpretrain ``CustomDataset`` layout)::

    <root>/{train,val}/<digit>/<source index>.png
    <root>/meta.json

  One image per source scan: padded, upscaled bilinearly to 32x32 by
  default, stored as a single-channel (grayscale) PNG, white digit on
  black. The stock ``LoadImageFromFile`` reads it as a 3-channel image, so
  RGB-pretrained backbones take it unchanged. ``meta.json`` records the
  generator version, the options and the image counts per split and class.

Both datasets split the scans by contiguous index ranges: train uses
``TRAIN_RANGE`` = [0, 1400) and val uses ``VAL_RANGE`` = [1400, 1797). The
scans are the 13-writer test set of the UCI optdigits data, kept in file
order, and no writer ids are shipped: the contiguous ranges keep whole
stretches of the file apart, which approximates a writer-independent
split but cannot guarantee it. No source scan appears in both splits.

Generation is deterministic: equal options and seed give byte-identical
files on a given platform and library build. Each split and each canvas
draws from its own seeded stream, so changing ``num_train`` leaves the val
split untouched and only adds or drops canvases at the end of train.
Datasets appear atomically (see :func:`.storage.publish_atomically`).

This module and ``storage`` need only numpy, OpenCV, scikit-learn and the
standard library. Importing them as ``bikd_mm.datasets.digits`` still runs
``bikd_mm/datasets/__init__.py`` first, which imports mmseg and mmpretrain
to register the dataset classes.
"""

import functools
import os
import os.path as osp
from collections.abc import Iterator, Sequence

import cv2
import numpy as np

from .storage import (
    count_files,
    default_root,
    dump_meta,
    is_empty_dir,
    publish_atomically,
    read_meta,
)

SEG_VERSION = 1
CLS_VERSION = 1

TRAIN_RANGE = (0, 1400)
VAL_RANGE = (1400, 1797)
SPLIT_RANGES = {'train': TRAIN_RANGE, 'val': VAL_RANGE}

CLS_CLASSES = tuple(str(d) for d in range(10))
SEG_CLASSES = ('background',) + CLS_CLASSES
IGNORE_INDEX = 255
RING_LOW = 0.2
RING_HIGH = 0.5

SEG_DEFAULTS = dict(
    num_train=300,
    num_val=100,
    canvas_size=64,
    digit_size=[16, 24],
    digits_per_image=[2, 4],
    seed=0,
)
CLS_DEFAULTS = dict(image_size=32)

# Tries per digit before it is left out of a crowded canvas.
_PLACEMENT_TRIES = 50
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 6]
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@functools.lru_cache(maxsize=1)
def load_digit_source() -> tuple[np.ndarray, np.ndarray]:
    """Return the bundled digit scans and their labels.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``float32`` images of shape
        ``(1797, 8, 8)`` scaled to [0, 1], and ``int64`` digits. Both are
        read-only because they are shared by every caller.
    """
    # Imported here so importing this module stays cheap.
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    targets = digits.target.astype(np.int64)
    images.flags.writeable = False
    targets.flags.writeable = False
    return images, targets


def upscale_digit(scan: np.ndarray, size: int) -> np.ndarray:
    """Upscale one 8x8 scan bilinearly to ``size`` x ``size``.

    A one-pixel empty border is added first: strokes often touch the edge
    of the 8x8 scan, and the border lets them fade out inside the box.

    Args:
        scan (np.ndarray): ``(8, 8)`` intensities in [0, 1].
        size (int): Output side in pixels.

    Returns:
        np.ndarray: ``float32`` intensities in [0, 1], ``(size, size)``.
    """
    padded = np.pad(np.asarray(scan, np.float32), 1)
    out = cv2.resize(padded, (size, size), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------
# digits_seg
# --------------------------------------------------------------------------
def _options(name: str, defaults: dict, overrides: dict) -> dict:
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise TypeError(f'unknown {name} options: {", ".join(unknown)}')
    # Lists, as JSON stores them, so options compare equal to meta.json.
    return {
        k: [int(x) for x in v] if isinstance(v, (list, tuple)) else int(v)
        for k, v in {**defaults, **overrides}.items()
    }


def _seg_options(**overrides) -> dict:
    opts = _options('digits_seg', SEG_DEFAULTS, overrides)
    if opts['num_train'] < 1 or opts['num_val'] < 1:
        raise ValueError('num_train and num_val must be positive')
    dmin, dmax = opts['digit_size']
    if not 10 <= dmin <= dmax <= opts['canvas_size']:
        raise ValueError(
            f'digit_size {opts["digit_size"]} must satisfy '
            f'10 <= min <= max <= canvas_size ({opts["canvas_size"]})'
        )
    kmin, kmax = opts['digits_per_image']
    if not 1 <= kmin <= kmax:
        raise ValueError(
            f'digits_per_image {opts["digits_per_image"]} must satisfy '
            '1 <= min <= max'
        )
    return opts


def digits_seg_root(**options) -> str:
    """Return the cache folder of the ``digits_seg`` dataset.

    This is where ``prepare_digits_seg(None, **options)`` generates; nothing
    is created.

    Args:
        **options: Generation options of :func:`prepare_digits_seg`.

    Returns:
        str: Absolute path of the cache folder.
    """
    return default_root(
        'digits_seg', SEG_VERSION, _seg_options(**options), SEG_DEFAULTS
    )


def _index_stream(
    rng: np.random.Generator, start: int, stop: int
) -> Iterator[int]:
    """Yield source indices, one shuffled pass over the range at a time.

    Whole passes keep every scan in use about equally often.
    """
    while True:
        yield from (int(i) for i in rng.permutation(np.arange(start, stop)))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Return a smooth random colour texture, ``float32`` ``HxWx3``."""
    base = rng.uniform(0.1, 0.9, 3).astype(np.float32)
    out = np.broadcast_to(base, (size, size, 3)).copy()
    # A coarse and a finer octave of bicubically upsampled noise.
    for cells, amplitude in (
        (int(rng.integers(2, 6)), 0.25),
        (int(rng.integers(8, 17)), 0.08),
    ):
        grid = rng.normal(0.0, 1.0, (cells, cells, 3)).astype(np.float32)
        smooth = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
        out += smooth * np.float32(rng.uniform(0.3, 1.0) * amplitude)
    return np.clip(out, 0.0, 1.0)


def _contrasting_colour(
    rng: np.random.Generator, under: np.ndarray
) -> np.ndarray:
    """Pick a colour whose luma differs from ``under``'s by at least 0.3."""
    under_luma = float(under @ _LUMA)
    for _ in range(100):
        colour = rng.uniform(0.0, 1.0, 3).astype(np.float32)
        if abs(float(colour @ _LUMA) - under_luma) >= 0.3:
            return colour
    value = 0.0 if under_luma > 0.5 else 1.0
    return np.full(3, value, np.float32)


def _boxes_overlap(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    (ya, xa, sa), (yb, xb, sb) = a, b
    return ya < yb + sb and yb < ya + sa and xa < xb + sb and xb < xa + sa


def render_seg_canvas(
    rng: np.random.Generator, sources: Sequence[int], options: dict
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Render one segmentation canvas.

    Args:
        rng (np.random.Generator): Stream for this canvas.
        sources (Sequence[int]): Candidate scan indices, placed in order.
        options (dict): Generation options (see :func:`prepare_digits_seg`).

    Returns:
        tuple[np.ndarray, np.ndarray, list[int]]: ``uint8`` RGB image
        ``(H, W, 3)``, ``uint8`` label map ``(H, W)`` and the indices of
        the scans that were placed.
    """
    images, targets = load_digit_source()
    size = options['canvas_size']
    dmin, dmax = options['digit_size']
    image = _background(rng, size)
    label = np.zeros((size, size), np.uint8)
    boxes: list[tuple[int, int, int]] = []
    placed: list[int] = []
    for index in sources:
        side = int(rng.integers(dmin, dmax + 1))
        for _ in range(_PLACEMENT_TRIES):
            box = (
                int(rng.integers(0, size - side + 1)),
                int(rng.integers(0, size - side + 1)),
                side,
            )
            if not any(_boxes_overlap(box, other) for other in boxes):
                break
        else:
            continue
        boxes.append(box)
        placed.append(index)
        y, x, _ = box
        alpha = upscale_digit(images[index], side)
        region = image[y : y + side, x : x + side]
        colour = _contrasting_colour(rng, region.mean(axis=(0, 1)))
        region[...] = (
            region * (1.0 - alpha[..., None]) + colour * alpha[..., None]
        )
        target = label[y : y + side, x : x + side]
        target[alpha >= RING_HIGH] = targets[index] + 1
        target[(alpha > RING_LOW) & (alpha < RING_HIGH)] = IGNORE_INDEX
    sigma = np.float32(rng.uniform(0.01, 0.06))
    image += rng.normal(0.0, 1.0, image.shape).astype(np.float32) * sigma
    image = np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return image, label, placed


def _imwrite(path: str, image: np.ndarray) -> None:
    if not cv2.imwrite(path, image, _PNG_PARAMS):
        raise OSError(f'failed to write {path}')


def _write_digits_seg(out: str, options: dict) -> None:
    split_meta = {}
    for split_code, (split, (start, stop)) in enumerate(SPLIT_RANGES.items()):
        img_dir = osp.join(out, 'img_dir', split)
        ann_dir = osp.join(out, 'ann_dir', split)
        os.makedirs(img_dir)
        os.makedirs(ann_dir)
        seed = options['seed']
        stream = _index_stream(
            np.random.default_rng([seed, split_code]), start, stop
        )
        kmin, kmax = options['digits_per_image']
        sources = []
        for i in range(options[f'num_{split}']):
            rng = np.random.default_rng([seed, split_code, i + 1])
            count = int(rng.integers(kmin, kmax + 1))
            picked = [next(stream) for _ in range(count)]
            image, label, placed = render_seg_canvas(rng, picked, options)
            name = f'{i:05d}.png'
            # OpenCV writes BGR; flip so the files hold the rendered RGB.
            _imwrite(osp.join(img_dir, name), image[..., ::-1])
            _imwrite(osp.join(ann_dir, name), label)
            sources.append(placed)
        split_meta[split] = dict(
            num_images=len(sources), index_range=[start, stop], sources=sources
        )
    dump_meta(
        dict(
            name='digits_seg',
            version=SEG_VERSION,
            source='sklearn.datasets.load_digits',
            options=options,
            classes=list(SEG_CLASSES),
            ignore_index=IGNORE_INDEX,
            ring_thresholds=[RING_LOW, RING_HIGH],
            splits=split_meta,
        ),
        out,
    )


def is_complete_digits_seg(root: str) -> bool:
    """Whether ``root`` holds a complete generated ``digits_seg`` dataset.

    Args:
        root (str): Dataset folder.

    Returns:
        bool: True when ``meta.json`` is readable and every split has the
        number of images and annotations it records.
    """
    meta = read_meta(root)
    if meta is None or meta.get('name') != 'digits_seg':
        return False
    for split in SPLIT_RANGES:
        expected = meta.get('splits', {}).get(split, {}).get('num_images')
        for kind in ('img_dir', 'ann_dir'):
            folder = osp.join(root, kind, split)
            if count_files(folder, '.png') != expected:
                return False
    return True


def prepare_digits_seg(
    root: str | None = None,
    *,
    num_train: int = 300,
    num_val: int = 100,
    canvas_size: int = 64,
    digit_size: Sequence[int] = (16, 24),
    digits_per_image: Sequence[int] = (2, 4),
    seed: int = 0,
) -> str:
    """Generate the ``digits_seg`` dataset unless it is already there.

    Args:
        root (str, optional): Dataset folder. None means the cache folder:
            ``$BIKD_DATA_ROOT/digits_seg`` when the variable is set, else
            ``~/.cache/bikd_mm/data/digits_seg_v<SEG_VERSION>`` (non-default
            options add a hash suffix). Defaults to None.
        num_train (int): Train canvases. Defaults to 300.
        num_val (int): Val canvases. Defaults to 100.
        canvas_size (int): Canvas side in pixels. Defaults to 64.
        digit_size (Sequence[int]): Inclusive range of the upscaled digit
            side in pixels. Defaults to (16, 24).
        digits_per_image (Sequence[int]): Inclusive range of digits drawn
            per canvas; crowded canvases may hold fewer. Defaults to (2, 4).
        seed (int): Random seed. Defaults to 0.

    Returns:
        str: Absolute path of the dataset folder.

    Raises:
        FileExistsError: ``root`` holds something other than a complete
            ``digits_seg`` dataset.
        ValueError: ``root`` holds a dataset generated with other options
            or by another generator version.
    """
    options = _seg_options(
        num_train=num_train,
        num_val=num_val,
        canvas_size=canvas_size,
        digit_size=digit_size,
        digits_per_image=digits_per_image,
        seed=seed,
    )
    return _prepare(
        'digits_seg',
        SEG_VERSION,
        root,
        options,
        SEG_DEFAULTS,
        _write_digits_seg,
        is_complete_digits_seg,
    )


# --------------------------------------------------------------------------
# digits_cls
# --------------------------------------------------------------------------
def _cls_options(**overrides) -> dict:
    opts = _options('digits_cls', CLS_DEFAULTS, overrides)
    if opts['image_size'] < 10:
        raise ValueError(
            f'image_size must be at least 10, got {opts["image_size"]}'
        )
    return opts


def digits_cls_root(**options) -> str:
    """Return the cache folder of the ``digits_cls`` dataset.

    This is where ``prepare_digits_cls(None, **options)`` generates; nothing
    is created.

    Args:
        **options: Generation options of :func:`prepare_digits_cls`.

    Returns:
        str: Absolute path of the cache folder.
    """
    return default_root(
        'digits_cls', CLS_VERSION, _cls_options(**options), CLS_DEFAULTS
    )


def _write_digits_cls(out: str, options: dict) -> None:
    images, targets = load_digit_source()
    size = options['image_size']
    split_meta = {}
    for split, (start, stop) in SPLIT_RANGES.items():
        for digit in CLS_CLASSES:
            os.makedirs(osp.join(out, split, digit))
        per_class = [0] * len(CLS_CLASSES)
        for index in range(start, stop):
            digit = int(targets[index])
            scan = upscale_digit(images[index], size)
            image = np.rint(scan * 255.0).astype(np.uint8)
            _imwrite(
                osp.join(out, split, str(digit), f'{index:04d}.png'), image
            )
            per_class[digit] += 1
        split_meta[split] = dict(
            num_images=stop - start,
            index_range=[start, stop],
            num_per_class=per_class,
        )
    dump_meta(
        dict(
            name='digits_cls',
            version=CLS_VERSION,
            source='sklearn.datasets.load_digits',
            options=options,
            classes=list(CLS_CLASSES),
            splits=split_meta,
        ),
        out,
    )


def is_complete_digits_cls(root: str) -> bool:
    """Whether ``root`` holds a complete generated ``digits_cls`` dataset.

    Args:
        root (str): Dataset folder.

    Returns:
        bool: True when ``meta.json`` is readable and every class folder of
        every split has the number of images it records.
    """
    meta = read_meta(root)
    if meta is None or meta.get('name') != 'digits_cls':
        return False
    for split in SPLIT_RANGES:
        counts = meta.get('splits', {}).get(split, {}).get('num_per_class')
        if not isinstance(counts, list) or len(counts) != len(CLS_CLASSES):
            return False
        for digit, expected in zip(CLS_CLASSES, counts):
            if count_files(osp.join(root, split, digit), '.png') != expected:
                return False
    return True


def prepare_digits_cls(
    root: str | None = None, *, image_size: int = 32
) -> str:
    """Generate the ``digits_cls`` dataset unless it is already there.

    Args:
        root (str, optional): Dataset folder. None means the cache folder:
            ``$BIKD_DATA_ROOT/digits_cls`` when the variable is set, else
            ``~/.cache/bikd_mm/data/digits_cls_v<CLS_VERSION>`` (non-default
            options add a hash suffix). Defaults to None.
        image_size (int): Side of the square images. Defaults to 32.

    Returns:
        str: Absolute path of the dataset folder.

    Raises:
        FileExistsError: ``root`` holds something other than a complete
            ``digits_cls`` dataset.
        ValueError: ``root`` holds a dataset generated with other options
            or by another generator version.
    """
    options = _cls_options(image_size=image_size)
    return _prepare(
        'digits_cls',
        CLS_VERSION,
        root,
        options,
        CLS_DEFAULTS,
        _write_digits_cls,
        is_complete_digits_cls,
    )


# --------------------------------------------------------------------------
# shared
# --------------------------------------------------------------------------
def _prepare(
    name: str,
    version: int,
    root: str | None,
    options: dict,
    defaults: dict,
    write,
    is_complete,
) -> str:
    if root is None:
        root = default_root(name, version, options, defaults)
    root = osp.abspath(osp.expanduser(root))
    if not is_complete(root):
        if osp.lexists(root) and not is_empty_dir(root):
            raise FileExistsError(
                f"'{root}' exists but is not a complete {name} dataset "
                f'(its meta.json or some image files are missing). Delete '
                'it to have it generated again, or choose another folder.'
            )
        publish_atomically(root, lambda out: write(out, options), is_complete)
    _check_meta(root, name, version, options)
    return root


def _check_meta(root: str, name: str, version: int, options: dict) -> None:
    meta = read_meta(root) or {}
    found: dict[str, object] = dict(version=meta.get('version'))
    found.update(meta.get('options', {}))
    wanted: dict[str, object] = dict(version=version)
    wanted.update(options)
    diff = {
        k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v
    }
    if diff:
        details = ', '.join(
            f'{k}: found {a!r}, wanted {b!r}'
            for k, (a, b) in sorted(diff.items())
        )
        raise ValueError(
            f"'{root}' holds a {name} dataset generated differently "
            f'({details}). Delete it to have it generated again, or choose '
            'another folder.'
        )
