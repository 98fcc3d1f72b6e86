"""Reading frames, saliency maps and fixation maps from disk.

Every reader raises an error that names the offending file, so a broken
sample in a large dataset can be found without a debugger.
"""

import os
import os.path as osp
import re
from collections.abc import Sequence

import cv2
import numpy as np
import scipy.io

#: Extensions accepted for frames and saliency maps.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')


def natural_sort_key(name: str) -> list:
    """Sort key that orders embedded numbers numerically.

    Frame names are not always zero padded to the same width (``img_9``,
    ``img_10``), so a plain string sort would misorder them.

    Args:
        name (str): A file name.

    Returns:
        list: Alternating text and integer parts of ``name``.
    """
    parts = re.split(r'(\d+)', name)
    return [int(p) if p.isdigit() else p.lower() for p in parts]


def list_files(
    folder: str, extensions: Sequence[str] = IMAGE_EXTENSIONS, prefix: str = ''
) -> list[str]:
    """List the files of ``folder`` with the given extensions, in order.

    Sub-folders are ignored, so ``fixation/maps/`` does not leak into the
    list of ``fixation/*.png``.

    Args:
        folder (str): Folder to list.
        extensions (Sequence[str]): Lower-case extensions, with the dot.
        prefix (str): Only names starting with this prefix are kept.

    Returns:
        list[str]: Full paths, in natural order.

    Raises:
        FileNotFoundError: If ``folder`` is not a directory.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'Folder not found: {folder}')
    names = [
        entry.name
        for entry in os.scandir(folder)
        if entry.is_file()
        and entry.name.startswith(prefix)
        and osp.splitext(entry.name)[1].lower() in extensions
    ]
    names.sort(key=natural_sort_key)
    return [osp.join(folder, name) for name in names]


def read_frame(path: str, channel_order: str = 'rgb') -> np.ndarray:
    """Read a video frame.

    Args:
        path (str): Image file.
        channel_order (str): ``'rgb'`` or ``'bgr'``.

    Returns:
        np.ndarray: ``uint8`` array of shape ``[H, W, 3]``.

    Raises:
        OSError: If the file is missing or cannot be decoded.
    """
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f'Cannot read frame (missing or corrupt): {path}')
    if channel_order == 'rgb':
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img


def read_saliency_map(path: str) -> np.ndarray:
    """Read a continuous saliency map as ``float32`` in ``[0, 1]``.

    8- and 16-bit images are divided by their type's maximum, so a map
    keeps its absolute scale (it is not re-normalised to a maximum of 1).

    Args:
        path (str): Grey-scale (or colour, then converted) image file.

    Returns:
        np.ndarray: ``float32`` array of shape ``[H, W]``.

    Raises:
        OSError: If the file is missing or cannot be decoded.
    """
    # IMREAD_ANYDEPTH without IMREAD_COLOR: grey-scale, 16 bits kept.
    img = cv2.imread(path, cv2.IMREAD_ANYDEPTH)
    if img is None:
        raise OSError(f'Cannot read saliency map (missing or corrupt): {path}')
    if np.issubdtype(img.dtype, np.integer):
        return img.astype(np.float32) / np.iinfo(img.dtype).max
    return np.clip(img.astype(np.float32), 0.0, 1.0)


def read_fixation_map(path: str, key: str | None = None) -> np.ndarray:
    """Read a binary fixation map from an image or a ``.mat`` file.

    Args:
        path (str): ``.png``/``.jpg`` image (any non-zero pixel is a
            fixation) or ``.mat`` file.
        key (str, optional): Variable holding the map in a ``.mat`` file
            (``'I'`` for DHF1K, ``'eyeMap'`` for DIEM). Required for
            ``.mat`` files.

    Returns:
        np.ndarray: ``float32`` array of shape ``[H, W]`` with values in
        ``{0, 1}``. A map without fixations is all zeros.

    Raises:
        OSError: If the file is missing or cannot be decoded.
        KeyError: If ``key`` is not in the ``.mat`` file.
    """
    if osp.splitext(path)[1].lower() == '.mat':
        if key is None:
            raise ValueError(
                f'A variable name is needed to read fixations from {path}'
            )
        try:
            mat = scipy.io.loadmat(path)
        except Exception as err:  # scipy raises several unrelated types
            raise OSError(
                f'Cannot read fixation map (missing or corrupt): {path}: {err}'
            ) from err
        if key not in mat:
            names = sorted(k for k in mat if not k.startswith('__'))
            raise KeyError(
                f'Variable {key!r} not found in {path}; it holds {names}'
            )
        fix = np.asarray(mat[key])
        if fix.ndim != 2:
            raise ValueError(
                f'Fixation map {key!r} in {path} has shape '
                f'{fix.shape}, expected a 2-D array'
            )
    else:
        fix = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if fix is None:
            raise OSError(
                f'Cannot read fixation map (missing or corrupt): {path}'
            )
    return (fix > 0).astype(np.float32)


def rescale_fixations(fix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Move a binary fixation map onto a grid of another size.

    Interpolating a sparse binary map would drop most fixations when it
    shrinks and smear them when it grows; instead every fixation is moved
    to the cell of the new grid that contains it (fixations falling in the
    same cell merge).

    Args:
        fix (np.ndarray): Binary map ``[H, W]``.
        shape (tuple[int, int]): Target ``(height, width)``.

    Returns:
        np.ndarray: ``float32`` binary map of shape ``shape``.
    """
    h, w = fix.shape
    new_h, new_w = shape
    out = np.zeros((new_h, new_w), dtype=np.float32)
    ys, xs = np.nonzero(fix)
    if len(ys):
        # The cell holding each pixel's centre, in integer arithmetic.
        ys = np.minimum(((2 * ys + 1) * new_h) // (2 * h), new_h - 1)
        xs = np.minimum(((2 * xs + 1) * new_w) // (2 * w), new_w - 1)
        out[ys, xs] = 1.0
    return out
