"""Write a small synthetic video saliency dataset in the DHF1K layout.

Each video shows textured objects moving over a slowly panning textured
background. Every frame has a known ground-truth fixation density (a
Gaussian per object, weighted by a per-object salience, plus a centre
bias and a uniform floor); fixations are sampled from it, one per
simulated observer, and the saliency map is the blurred fixation map, as
in the real datasets. Output::

    <out>/annotation/<video>/images/<frame>.png
    <out>/annotation/<video>/maps/<frame>.png
    <out>/annotation/<video>/fixation/<frame>.png
    <out>/annotation/<video>/fixation/maps/<frame>.mat   (variable I)
    <out>/frames/<video>/<frame>.png       test videos (no labels)
    <out>/meta.json

Train videos are numbered from 0001, val videos from 0601 and test videos
from 0701, so :class:`bikd_mm.datasets.saliency.DHF1KDataset` reads the
splits as usual (``frame_dir='frames'`` for the test split). The output is
byte-identical for a given seed and options, and each video depends only
on the seed and its number. The folder appears atomically: it is written
next to its final place and renamed.

Usage::

    python tools/saliency/make_synthetic.py OUT [--num-train 3] [--seed 0]
"""

import argparse
import io
import json
import os
import os.path as osp
import shutil
import sys
import tempfile

import cv2
import numpy as np
import scipy.io

#: Bump when the generated content changes.
VERSION = 1

#: First video number of each split, as in DHF1K.
SPLIT_START = dict(train=1, val=601, test=701)

_MAT_HEADER = b'MATLAB 5.0 MAT-file, written by make_synthetic.py'


def _savemat_deterministic(path: str, data: dict) -> None:
    """``scipy.io.savemat`` without the creation time in the header."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, data)
    raw = bytearray(buf.getvalue())
    # The first 116 bytes of a MAT 5 file are free text.
    raw[:116] = _MAT_HEADER.ljust(116)
    with open(path, 'wb') as f:
        f.write(bytes(raw))


def _smooth_texture(
    rng: np.random.Generator, height: int, width: int, cells: int
) -> np.ndarray:
    """Random colour texture: coarse noise upsampled smoothly, 0-1."""
    coarse = rng.random((cells, max(2, cells * width // height), 3))
    tex = cv2.resize(
        coarse.astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    return np.clip(tex, 0.0, 1.0)


class _Object:
    """A textured ellipse bouncing inside the frame."""

    def __init__(
        self, rng: np.random.Generator, height: int, width: int
    ) -> None:
        size = min(height, width)
        self.ry = rng.uniform(0.1, 0.2) * size
        self.rx = self.ry * rng.uniform(0.8, 1.6)
        self.y = rng.uniform(self.ry, height - self.ry)
        self.x = rng.uniform(self.rx, width - self.rx)
        speed = rng.uniform(0.01, 0.04) * size
        angle = rng.uniform(0, 2 * np.pi)
        self.vy, self.vx = speed * np.sin(angle), speed * np.cos(angle)
        self.salience = rng.uniform(0.5, 1.5)
        period = int(rng.integers(3, 7))
        c1, c2 = rng.random(3), rng.random(3)
        yy, xx = np.mgrid[0 : 2 * int(self.ry) + 2, 0 : 2 * int(self.rx) + 2]
        checker = ((yy // period + xx // period) % 2)[..., None]
        self.texture = np.where(checker, c1, c2).astype(np.float32)
        self.height, self.width = height, width

    def step(self) -> None:
        """Move one frame, bouncing off the borders."""
        self.y += self.vy
        self.x += self.vx
        if not self.ry <= self.y <= self.height - self.ry:
            self.vy = -self.vy
            self.y = float(np.clip(self.y, self.ry, self.height - self.ry))
        if not self.rx <= self.x <= self.width - self.rx:
            self.vx = -self.vx
            self.x = float(np.clip(self.x, self.rx, self.width - self.rx))

    def draw(self, frame: np.ndarray) -> None:
        """Paint the object onto ``frame`` (float, ``[H, W, 3]``)."""
        yy, xx = np.mgrid[0 : self.height, 0 : self.width]
        mask = (
            ((yy - self.y) / self.ry) ** 2 + ((xx - self.x) / self.rx) ** 2
        ) <= 1.0
        ty = np.clip(
            (yy - self.y + self.ry).astype(int), 0, self.texture.shape[0] - 1
        )
        tx = np.clip(
            (xx - self.x + self.rx).astype(int), 0, self.texture.shape[1] - 1
        )
        frame[mask] = self.texture[ty[mask], tx[mask]]


def fixation_density(
    objects: list[_Object], height: int, width: int
) -> np.ndarray:
    """Ground-truth fixation density of a frame (sums to 1).

    Args:
        objects (list): The frame's objects.
        height (int): Frame height.
        width (int): Frame width.

    Returns:
        np.ndarray: ``float64`` density ``[height, width]``.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    density = np.zeros((height, width))
    for obj in objects:
        sy, sx = obj.ry / 2, obj.rx / 2
        density += obj.salience * np.exp(
            -0.5 * (((yy - obj.y) / sy) ** 2 + ((xx - obj.x) / sx) ** 2)
        )
    centre = np.exp(
        -0.5
        * (
            ((yy - height / 2) / (0.3 * height)) ** 2
            + ((xx - width / 2) / (0.3 * width)) ** 2
        )
    )
    density = density / density.sum() + 0.1 * centre / centre.sum()
    density += 0.02 / density.size
    return density / density.sum()


def write_video(
    video_dir: str,
    rng: np.random.Generator,
    num_frames: int,
    height: int,
    width: int,
    num_objects: int,
    num_observers: int,
    with_labels: bool,
) -> None:
    """Generate one video and write its frames (and labels).

    Args:
        video_dir (str): Output folder: ``images/``, ``maps/`` and
            ``fixation/`` go below it with labels, the frames directly in
            it without.
        rng (np.random.Generator): Source of randomness for this video.
        num_frames (int): Frames to write.
        height (int): Frame height.
        width (int): Frame width.
        num_objects (int): Moving objects.
        num_observers (int): Fixations sampled per frame.
        with_labels (bool): Write maps and fixations too.
    """
    pad = max(8, width // 8)
    background = _smooth_texture(rng, height + 2 * pad, width + 2 * pad, 6)
    background = 0.3 + 0.4 * background
    pan = rng.uniform(-1.0, 1.0, size=2)
    objects = [_Object(rng, height, width) for _ in range(num_objects)]
    sigma = 0.04 * width
    if with_labels:
        img_dir = osp.join(video_dir, 'images')
        for sub in (
            'images',
            'maps',
            'fixation',
            osp.join('fixation', 'maps'),
        ):
            os.makedirs(osp.join(video_dir, sub))
    else:
        img_dir = video_dir
        os.makedirs(video_dir)
    for index in range(num_frames):
        oy = int(pad + pad * np.sin(pan[0] * index / num_frames * np.pi))
        ox = int(pad + pad * np.sin(pan[1] * index / num_frames * np.pi))
        frame = background[oy : oy + height, ox : ox + width].copy()
        for obj in objects:
            obj.draw(frame)
        name = f'{index + 1:04d}'
        rgb = (frame * 255).round().astype(np.uint8)
        cv2.imwrite(
            osp.join(img_dir, name + '.png'),
            cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
        )
        if with_labels:
            density = fixation_density(objects, height, width)
            picks = rng.choice(
                density.size, size=num_observers, p=density.ravel()
            )
            fix = np.zeros((height, width), dtype=np.uint8)
            fix.flat[picks] = 1
            sal = cv2.GaussianBlur(fix.astype(np.float64), (0, 0), sigma)
            sal = (sal / sal.max() * 255).round().astype(np.uint8)
            cv2.imwrite(osp.join(video_dir, 'maps', name + '.png'), sal)
            cv2.imwrite(
                osp.join(video_dir, 'fixation', name + '.png'), fix * 255
            )
            _savemat_deterministic(
                osp.join(video_dir, 'fixation', 'maps', name + '.mat'),
                dict(I=fix),
            )
        for obj in objects:
            obj.step()


def make_synthetic(
    out_dir: str,
    num_train: int = 3,
    num_val: int = 2,
    num_test: int = 0,
    num_frames: int = 16,
    height: int = 72,
    width: int = 128,
    num_objects: int = 2,
    num_observers: int = 15,
    seed: int = 0,
    overwrite: bool = False,
) -> str:
    """Write the synthetic dataset to ``out_dir``, atomically.

    Args:
        out_dir (str): Output folder; must not exist unless ``overwrite``.
        num_train (int): Videos of the train split.
        num_val (int): Videos of the val split.
        num_test (int): Unlabelled videos of the test split.
        num_frames (int): Frames per video.
        height (int): Frame height.
        width (int): Frame width.
        num_objects (int): Moving objects per video.
        num_observers (int): Fixations per frame.
        seed (int): Random seed.
        overwrite (bool): Replace an existing ``out_dir``.

    Returns:
        str: ``out_dir``.
    """
    counts = dict(train=num_train, val=num_val, test=num_test)
    for split, count in counts.items():
        # Stay inside the split's range of DHF1K video numbers.
        limit = dict(train=600, val=100, test=300)[split]
        if not 0 <= count <= limit:
            raise ValueError(
                f'{split} videos must be in [0, {limit}], got {count}'
            )
    if num_frames < 1 or height < 8 or width < 8:
        raise ValueError('need num_frames >= 1 and frames of 8x8 or more')
    if num_observers < 1:
        raise ValueError('need num_observers >= 1')
    out_dir = osp.abspath(out_dir)
    if osp.exists(out_dir) and not overwrite:
        raise FileExistsError(
            f'{out_dir} exists; pass overwrite=True (--overwrite) to '
            'replace it'
        )
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(out_dir)}.tmp-', dir=parent)
    try:
        for split, count in counts.items():
            for k in range(count):
                number = SPLIT_START[split] + k
                rng = np.random.default_rng([seed, number])
                labelled = split != 'test'
                root = 'annotation' if labelled else 'frames'
                write_video(
                    osp.join(tmp, root, f'{number:04d}'),
                    rng,
                    num_frames,
                    height,
                    width,
                    num_objects,
                    num_observers,
                    labelled,
                )
        meta = dict(
            generator='tools/saliency/make_synthetic.py',
            version=VERSION,
            layout='DHF1K',
            seed=seed,
            num_train=num_train,
            num_val=num_val,
            num_test=num_test,
            num_frames=num_frames,
            height=height,
            width=width,
            num_objects=num_objects,
            num_observers=num_observers,
        )
        with open(osp.join(tmp, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.write('\n')
        _publish(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _publish(tmp: str, out_dir: str) -> None:
    """Move ``tmp`` to ``out_dir``, replacing an existing folder."""
    # mkdtemp creates 0700 folders; give the dataset the usual mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    if not osp.exists(out_dir):
        os.replace(tmp, out_dir)
        return
    # os.replace cannot overwrite a non-empty folder: move the old one
    # aside first, then delete it once the new one is in place.
    old = tempfile.mkdtemp(
        prefix=f'.{osp.basename(out_dir)}.old-', dir=osp.dirname(out_dir)
    )
    os.replace(out_dir, osp.join(old, 'data'))
    os.replace(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a synthetic video saliency dataset in the '
        'DHF1K layout.'
    )
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--num-train', type=int, default=3)
    parser.add_argument('--num-val', type=int, default=2)
    parser.add_argument('--num-test', type=int, default=0)
    parser.add_argument('--num-frames', type=int, default=16)
    parser.add_argument('--height', type=int, default=72)
    parser.add_argument('--width', type=int, default=128)
    parser.add_argument('--num-objects', type=int, default=2)
    parser.add_argument('--num-observers', type=int, default=15)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--overwrite', action='store_true', help='replace OUT if it exists'
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = make_synthetic(
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        num_test=args.num_test,
        num_frames=args.num_frames,
        height=args.height,
        width=args.width,
        num_objects=args.num_objects,
        num_observers=args.num_observers,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    print(out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
