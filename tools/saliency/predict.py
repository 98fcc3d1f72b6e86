"""Predict a saliency map for every frame of a folder of frames.

The model is a video saliency model (:class:`VideoSaliencyModel`), given by
its own config, or by a Bi-KD pair config and ``--member``. The checkpoint
may be the member's exported checkpoint (``tools/export_member.py``), a
plain model checkpoint, or the whole pair's checkpoint (its
``members.<member>.`` weights are used).

Each frame is the last frame of a clip of ``--clip-len`` frames; the first
frames of the video use the time-reversed clip of the frames that follow
them (the reference test procedure of TASED-Net and ViNet). For a member of
a pair config whose validation dataset has ``member_clips`` (the published
models), the member's own clip is used instead (frames, stride, position
of the target, edge handling) with its size and resampling from the
config's ``SplitMemberClips``; ``--frame-stride``, ``--target-pos``,
``--pad-mode`` and ``--size`` override them. Maps are written at the frame
size as 8-bit PNGs scaled to a maximum of 255,
``<out-dir>/<frame name>.png``.

Usage::

    python tools/saliency/predict.py CONFIG CHECKPOINT FRAMES_DIR OUT_DIR \\
        [--member NAME] [--clip-len 32] [--size 224 384] [--device cpu] \\
        [--frame-stride 2] [--target-pos 16] [--pad-mode repeat]
"""

import argparse
import copy
import os
import os.path as osp
import sys

import cv2
import numpy as np
import torch
from mmengine.config import Config
from tqdm import tqdm

from bikd_mm.datasets.saliency import ResizeClip, read_frame, window_indices
from bikd_mm.datasets.saliency.io_utils import list_files
from bikd_mm.models.member import parse_members
from bikd_mm.registry import MODELS
from bikd_mm.utils.checkpoint import extract_state_dict, load_checkpoint_file

MEMBER_PREFIX = 'members.'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config, or Bi-KD pair config')
    parser.add_argument('checkpoint', help='member, model or pair weights')
    parser.add_argument('frames_dir', help='folder of the frames of a video')
    parser.add_argument('out_dir', help='folder for the predicted maps')
    parser.add_argument(
        '--member', help='member of a pair config (default: the first)'
    )
    parser.add_argument(
        '--clip-len',
        type=int,
        help="frames per clip (default: the config's clip_len, else 32)",
    )
    parser.add_argument(
        '--size',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help="frame size fed to the model (default: the config's "
        'input_size, else the frame size)',
    )
    parser.add_argument(
        '--frame-stride', type=int, help='step between clip frames'
    )
    parser.add_argument(
        '--target-pos',
        help='position of the predicted frame in its clip: an index, '
        "'last' or 'center'",
    )
    parser.add_argument(
        '--pad-mode',
        choices=('flip', 'repeat'),
        help='filling of clips that reach outside the video',
    )
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--allow-unsafe-checkpoint',
        action='store_true',
        help='allow a checkpoint that needs arbitrary unpickling',
    )
    return parser.parse_args(argv)


def model_config(cfg: Config, member: str | None) -> tuple[dict, str | None]:
    """The model config to build and the member name (None: no pair)."""
    model = cfg.model
    if 'members' not in model:
        if member is not None:
            raise ValueError(f'--member {member!r}: the config is no pair')
        return copy.deepcopy(model), None
    specs = parse_members(model['members'])
    names = [s.name for s in specs]
    name = member or names[0]
    if name not in names:
        raise ValueError(f'no member {name!r}; members: {names}')
    return copy.deepcopy(specs[names.index(name)].model), name


def _drop_pretrained(model_cfg: dict) -> None:
    # The checkpoint holds every weight: no backbone download needed.
    backbone = model_cfg.get('backbone')
    if isinstance(backbone, dict):
        init = backbone.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            backbone['init_cfg'] = None
        inner = backbone.get('backbone')
        if isinstance(inner, dict):
            _drop_pretrained(dict(backbone=inner))


def load_model(
    cfg: Config,
    checkpoint: str,
    member: str | None = None,
    device: str = 'cpu',
    allow_unsafe: bool | None = None,
) -> torch.nn.Module:
    """Build the (member) model and load its weights, strictly."""
    import bikd_mm.models.saliency  # noqa: F401  (registers the models)

    model_cfg, name = model_config(cfg, member)
    _drop_pretrained(model_cfg)
    model = MODELS.build(model_cfg)
    state = extract_state_dict(
        load_checkpoint_file(checkpoint, allow_unsafe, owner='predict')
    )
    if any(k.startswith(MEMBER_PREFIX) for k in state):
        if name is None:
            names = sorted(
                {k[len(MEMBER_PREFIX) :].split('.')[0] for k in state}
            )
            raise ValueError(
                f'{checkpoint} is a pair checkpoint (members {names}); '
                'give the pair config and --member'
            )
        prefix = f'{MEMBER_PREFIX}{name}.'
        state = {
            k[len(prefix) :]: v
            for k, v in state.items()
            if k.startswith(prefix)
        }
        if not state:
            raise KeyError(f'no weights of member {name!r} in {checkpoint}')
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def member_clip(cfg: Config, member: str | None) -> dict:
    """A member's clip settings from a pair config's ``member_clips``.

    Returns:
        dict: ``clip_len``, ``frame_stride``, ``target_pos``, ``pad_mode``
        and, where the config's ``SplitMemberClips`` names them, ``size``
        and ``interpolation``; empty when the config gives the member no
        clip of its own.
    """
    dataset = cfg.get('val_dataloader', {}).get('dataset', {})
    clips = dataset.get('member_clips') or {}
    if member is None or member not in clips:
        return {}
    spec = clips[member]
    out = dict(
        clip_len=spec['clip_len'],
        frame_stride=spec.get('frame_stride', 1),
        target_pos=spec.get('target_pos', 'last'),
        pad_mode=dataset.get('pad_mode', 'flip'),
    )
    for step in dataset.get('pipeline', []):
        if step.get('type') == 'SplitMemberClips':
            if member in (step.get('sizes') or {}):
                out['size'] = tuple(step['sizes'][member])
            out['interpolation'] = step.get('interpolation', 'pil_bilinear')
    return out


def _target_pos(value, clip_len: int) -> int:
    if value in (None, 'last'):
        return clip_len - 1
    if value == 'center':
        return clip_len // 2
    pos = int(value)
    if not 0 <= pos < clip_len:
        raise ValueError(f'target position {pos} outside a {clip_len}-clip')
    return pos


def read_video(
    frames_dir: str, size: tuple | None, interpolation: str = 'bilinear'
) -> tuple:
    """Frame paths, frames ``[N, H, W, 3]`` (RGB, at ``size``) and the
    original frame size."""
    paths = list_files(frames_dir)
    if not paths:
        raise FileNotFoundError(f'no frames in {frames_dir}')
    frames = [read_frame(p, 'rgb') for p in paths]
    ori = frames[0].shape[:2]
    if any(f.shape[:2] != ori for f in frames):
        raise ValueError(f'frames of {frames_dir} differ in size')
    imgs = np.stack(frames)
    if size is not None and tuple(size) != tuple(ori):
        resize = ResizeClip(
            size=size, interpolation=interpolation, resize_gt=False
        )
        imgs = resize(dict(imgs=imgs))['imgs']
    return paths, imgs, tuple(ori)


def to_png(pred: torch.Tensor) -> np.ndarray:
    """A map scaled to a maximum of 255, as ``uint8``."""
    pred = pred.float().clamp_min(0).cpu().numpy()
    peak = pred.max()
    if peak > 0:
        pred = pred / peak
    return np.round(pred * 255).astype(np.uint8)


def predict_folder(
    model: torch.nn.Module,
    frames_dir: str,
    out_dir: str,
    clip_len: int,
    size: tuple | None = None,
    batch_size: int = 1,
    frame_stride: int = 1,
    target_pos: int | None = None,
    pad_mode: str = 'flip',
    interpolation: str = 'bilinear',
) -> list[str]:
    """Write one PNG per frame of ``frames_dir`` into ``out_dir``.

    Each frame is predicted from the clip of ``clip_len`` frames at
    ``frame_stride`` with the frame at ``target_pos`` (default: last),
    filled at the ends of the video per ``pad_mode`` (see
    :func:`window_indices`).

    Returns:
        list[str]: The written files, in frame order.
    """
    paths, imgs, ori = read_video(frames_dir, size, interpolation)
    clips = torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    targets = range(len(paths))
    with tqdm(total=len(paths), desc='predict', unit='frame') as bar:
        for start in range(0, len(paths), batch_size):
            batch = list(targets[start : start + batch_size])
            inputs = [
                clips[
                    window_indices(
                        t,
                        len(paths),
                        clip_len,
                        frame_stride,
                        target_pos,
                        pad_mode,
                    )
                ]
                for t in batch
            ]
            samples = [dict(ori_shape=ori, frame=t) for t in batch]
            with torch.no_grad():
                outputs = model.test_step(
                    dict(inputs=inputs, data_samples=samples)
                )
            for t, out in zip(batch, outputs):
                name = osp.splitext(osp.basename(paths[t]))[0] + '.png'
                path = osp.join(out_dir, name)
                if not cv2.imwrite(path, to_png(out['pred_saliency'])):
                    raise OSError(f'cannot write {path}')
                written.append(path)
            bar.update(len(batch))
    return written


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    _, name = model_config(cfg, args.member)
    own = member_clip(cfg, name)
    clip_len = args.clip_len or own.get('clip_len') or cfg.get('clip_len', 32)
    size = (
        tuple(args.size)
        if args.size
        else own.get('size', cfg.get('input_size'))
    )
    target = args.target_pos or own.get('target_pos')
    model = load_model(
        cfg,
        args.checkpoint,
        args.member,
        args.device,
        True if args.allow_unsafe_checkpoint else None,
    )
    written = predict_folder(
        model,
        args.frames_dir,
        args.out_dir,
        clip_len,
        tuple(size) if size else None,
        args.batch_size,
        frame_stride=args.frame_stride or own.get('frame_stride', 1),
        target_pos=_target_pos(target, clip_len),
        pad_mode=args.pad_mode or own.get('pad_mode', 'flip'),
        interpolation=own.get('interpolation', 'bilinear'),
    )
    print(f'{len(written)} maps written to {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
