"""Tiny segmentation members for tests (stock mmseg components)."""

import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
)
MODELS = {
    'cnn': 'configs/_base_/models/upernet_r18-tiny.py',
    'swin': 'configs/_base_/models/upernet_swin-tiny.py',
    'm2f': 'configs/_base_/models/mask2former_r18-tiny.py',
}
MEMBER_CONFIGS = {
    'cnn': 'configs/bikd/demo/members/upernet_r18-tiny_digits.py',
    'swin': 'configs/bikd/demo/members/upernet_swin-tiny_digits.py',
    'm2f': 'configs/bikd/demo/members/mask2former_r18-tiny_digits.py',
}


def member_model(kind: str = 'cnn', **overrides) -> dict:
    """The inline model dict of a tiny member, with overrides merged."""
    model = copy.deepcopy(Config.fromfile(osp.join(REPO, MODELS[kind])).model)
    model = model.to_dict()
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(model.get(key), dict):
            model[key].update(value)
        else:
            model[key] = value
    return model


def member(name: str, kind: str | None = None, **kwargs) -> dict:
    return dict(name=name, model=member_model(kind or name), **kwargs)


def fake_batch(
    batch: int = 2,
    size: int = 64,
    num_classes: int = 11,
    seed: int = 0,
    ignore_fraction: float = 0.1,
) -> dict:
    """A raw batch as the dataloader gives it (uint8 images, labels)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(
            0, 256, (3, size, size), generator=gen, dtype=torch.uint8
        )
        for _ in range(batch)
    ]
    samples = []
    for _ in range(batch):
        label = torch.randint(0, num_classes, (1, size, size), generator=gen)
        label[torch.rand(1, size, size, generator=gen) < ignore_fraction] = 255
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label)
        sample.set_metainfo(
            dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size),
            )
        )
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
