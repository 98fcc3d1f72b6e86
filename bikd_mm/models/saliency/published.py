"""Shared construction of the published saliency models."""

import copy

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def with_defaults(given: dict | None, default: dict) -> dict:
    """``default`` updated by the keys of ``given`` (None: ``default``)."""
    cfg = copy.deepcopy(default)
    if given is not None:
        if not isinstance(given, dict):
            return given
        if given.get('type', cfg['type']) != cfg['type']:
            return copy.deepcopy(given)
        cfg.update(copy.deepcopy(given))
    return cfg
