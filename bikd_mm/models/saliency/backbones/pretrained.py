"""Loading of public backbone checkpoints into the saliency backbones."""

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch.nn as nn
from mmengine.logging import print_log


def select_backbone_keys(
    state_dict: dict,
    module: nn.Module,
    prefixes: Sequence[str] = ('backbone.',),
    heads: Sequence[str] = (),
) -> OrderedDict:
    """The backbone's part of a checkpoint's state dict, without prefix.

    If some key starts with one of ``prefixes`` (a whole recognizer saved
    as ``backbone.*`` + ``cls_head.*``), only those keys are kept, with the
    prefix removed. Otherwise the keys are taken as they are, minus those
    starting with one of ``heads`` (a bare classifier's head).

    Args:
        state_dict (dict): Checkpoint weights.
        own_keys (Iterable[str]): The backbone's own keys; a key that
            starts with a prefix but is also an own key is kept as is.
        prefixes (Sequence[str]): Prefixes to strip, longest first.
        heads (Sequence[str]): Prefixes of keys to skip.

    Returns:
        OrderedDict: The selected weights.
    """
    own_state = module.state_dict()
    own = set(own_state)
    prefixes = sorted(prefixes, key=len, reverse=True)

    def strip(key: str) -> str | None:
        for prefix in prefixes:
            if key.startswith(prefix) and key not in own:
                return key[len(prefix) :]
        return None

    if any(strip(k) is not None for k in state_dict):
        pairs = [(strip(k), v) for k, v in state_dict.items()]
    else:
        pairs = list(state_dict.items())
    selected = OrderedDict(
        (k, v)
        for k, v in pairs
        if k is not None and not any(k.startswith(h) for h in heads)
    )
    for key, value in own_state.items():
        if key.endswith('num_batches_tracked') and key not in selected:
            selected[key] = value
    return selected


def load_backbone_weights(
    module: nn.Module,
    init_cfg: dict,
    select: Callable[[dict], dict],
) -> None:
    """Load ``init_cfg['checkpoint']`` into ``module`` non-strictly.

    The checkpoint is unpickled safely (see
    :func:`bikd_mm.utils.checkpoint.load_checkpoint_file`); keys that do not
    match are logged.

    Args:
        module (nn.Module): The backbone.
        init_cfg (dict): ``dict(type='Pretrained', checkpoint=...,
            allow_unsafe=None)``.
        select (Callable): Maps the checkpoint's state dict to the
            backbone's keys.
    """
    from bikd_mm.utils.checkpoint import (
        extract_state_dict,
        load_checkpoint_file,
    )

    path = init_cfg['checkpoint']
    checkpoint = load_checkpoint_file(
        path, init_cfg.get('allow_unsafe'), owner=type(module).__name__
    )
    result = module.load_state_dict(
        select(extract_state_dict(checkpoint)), strict=False
    )
    print_log(
        f'{type(module).__name__}: loaded {path}; missing keys: '
        f'{result.missing_keys}; unexpected keys: {result.unexpected_keys}',
        logger='current',
    )
    module._is_init = True
