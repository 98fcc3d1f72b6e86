"""Tiny classification members for tests (stock mmpretrain components)."""

import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
)
MODELS = {
    'cnn': 'configs/_base_/models/resnet-tiny_cls.py',
    'vit': 'configs/_base_/models/vit-tiny_cls.py',
}
MEMBER_CONFIGS = {
    'cnn': 'configs/bikd/demo/members/resnet-tiny_digits.py',
    'vit': 'configs/bikd/demo/members/vit-tiny_digits.py',
}
# Different normalisations, so that a member using another's statistics
# would show.
PREPROCESSORS = {
    'cnn': dict(
        num_classes=10,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
    ),
    'vit': dict(
        num_classes=10,
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        to_rgb=False,
    ),
}
MIXUP = dict(augments=[dict(type='Mixup', alpha=0.8)])


def member_model(kind: str = 'cnn', **overrides) -> dict:
    """The inline model dict of a tiny member, with overrides merged."""
    model = copy.deepcopy(Config.fromfile(osp.join(REPO, MODELS[kind])).model)
    model = model.to_dict()
    model['data_preprocessor'] = copy.deepcopy(PREPROCESSORS[kind])
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(model.get(key), dict):
            model[key].update(value)
        else:
            model[key] = value
    return model


def member(name: str, kind: str | None = None, **kwargs) -> dict:
    model = kwargs.pop('model', None) or member_model(kind or name)
    return dict(name=name, model=model, **kwargs)


def fake_batch(
    batch: int = 4, size: int = 32, num_classes: int = 10, seed: int = 0
) -> dict:
    """A raw batch as the dataloader gives it (uint8 images, labels)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(
            0, 256, (3, size, size), generator=gen, dtype=torch.uint8
        )
        for _ in range(batch)
    ]
    labels = torch.randint(0, num_classes, (batch,), generator=gen)
    samples = [DataSample().set_gt_label(int(label)) for label in labels]
    return dict(inputs=inputs, data_samples=samples)
