"""Export one member of a Bi-KD checkpoint as a plain model checkpoint,
with the member's complete config beside it."""

import copy
import logging
import os.path as osp
from collections import OrderedDict

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from bikd_mm.utils.checkpoint import (
    extract_state_dict,
    load_checkpoint_file,
    save_atomic,
)
from bikd_mm.utils.io import write_text_atomic

MEMBER_PREFIX = 'members.'
MEMBER_METRIC = ('MemberMetric', 'bikd_mm.MemberMetric')
# Keys of the pair config that describe how the members are tested.
TEST_KEYS = (
    'test_dataloader',
    'test_evaluator',
    'test_cfg',
    'val_dataloader',
    'val_evaluator',
    'val_cfg',
)
# mmpretrain's wrappers of timm and Hugging Face classifiers keep the
# wrapped network under ``model``.
WRAPPER_TYPES = ('TimmClassifier', 'HuggingFaceClassifier')
WRAPPED = 'model.'
KEPT_META = (
    'dataset_meta',
    'epoch',
    'iter',
    'seed',
    'mmengine_version',
    'time',
)


def member_names_in(state_dict: dict) -> list[str]:
    """Member names found in a Bi-KD state dict, in order of appearance."""
    names = []
    for key in state_dict:
        if key.startswith(MEMBER_PREFIX):
            name = key[len(MEMBER_PREFIX) :].split('.', 1)[0]
            if name not in names:
                names.append(name)
    return names


def config_path_for(out: str) -> str:
    """The config file written beside the weights ``out`` (``.py``)."""
    return osp.splitext(out)[0] + '.py'


def _unwrap_evaluator(evaluator, member: str):
    """The stock metric(s) of a pair evaluator, for one member."""
    if isinstance(evaluator, (list, tuple)):
        return [_unwrap_evaluator(e, member) for e in evaluator]
    if isinstance(evaluator, dict) and evaluator.get('type') in MEMBER_METRIC:
        return copy.deepcopy(evaluator['metric'])
    return copy.deepcopy(evaluator)


def member_config(pair_cfg: Config, member: str) -> Config:
    """The complete stock config of one member, as the pair runs it.

    It is the member's own config (when it came from a file) with the
    model the pair built (its ``cfg_options`` and inline ``model``
    overrides merged, its data preprocessor, no pretrained initialisation:
    the weights come from the exported checkpoint) and the pair's test and
    validation data, pipelines, metrics and loops. ``mmseg.apis.init_model``
    and ``mmpretrain.get_model`` take it as it is.

    Args:
        pair_cfg (Config): The pair config (as written or as the runner
            completed it).
        member (str): Member name.

    Returns:
        Config: The member's config.

    Raises:
        KeyError: If the pair has no member of that name.
    """
    from bikd_mm.models.member import drop_pretrained, parse_members

    specs = {s.name: s for s in parse_members(pair_cfg.model['members'])}
    if member not in specs:
        raise KeyError(f'no member {member!r}; members: {list(specs)}')
    spec = specs[member]
    cfg = spec.config.to_dict() if spec.config is not None else {}
    model = copy.deepcopy(spec.model)
    drop_pretrained(model)
    cfg['model'] = model
    cfg.pop('data_preprocessor', None)  # part of the model
    for key in TEST_KEYS:
        if pair_cfg.get(key) is not None:
            value = copy.deepcopy(pair_cfg[key])
            if key.endswith('evaluator'):
                value = _unwrap_evaluator(value, member)
            cfg[key] = value
    loader = pair_cfg.get('test_dataloader') or pair_cfg.get('val_dataloader')
    if loader is not None and 'pipeline' in loader.get('dataset', {}):
        # mmseg's inference_model reads test_pipeline.
        cfg['test_pipeline'] = copy.deepcopy(loader['dataset']['pipeline'])
    imports = list(cfg.get('custom_imports', {}).get('imports', []))
    for name in (pair_cfg.get('custom_imports') or {}).get('imports', []):
        if name not in imports:
            imports.append(name)
    if imports:
        cfg['custom_imports'] = dict(
            imports=imports, allow_failed_imports=False
        )
    if 'default_scope' not in cfg and pair_cfg.get('default_scope'):
        cfg['default_scope'] = pair_cfg.default_scope
    for key in ('runner_type', 'load_from', 'resume', 'work_dir'):
        cfg.pop(key, None)
    return Config(ConfigDict(cfg))


def _wraps_another_library(
    pair_cfg: Config | None, member: str, state: dict
) -> bool:
    """Whether the member is a ``TimmClassifier`` or
    ``HuggingFaceClassifier`` (by the pair config, else by its keys: all
    under ``model.``, which no other member has)."""
    if pair_cfg is not None:
        from bikd_mm.models.member import parse_members

        for spec in parse_members(pair_cfg.model['members']):
            if spec.name == member:
                kind = str(spec.model.get('type', '')).split('.')[-1]
                return kind in WRAPPER_TYPES
    return bool(state) and all(k.startswith(WRAPPED) for k in state)


def _pair_config(meta: dict, config) -> Config | None:
    if isinstance(config, Config):
        return config
    if config is not None:
        from bikd_mm.utils.config import load_config

        return load_config(config)
    text = meta.get('cfg')
    if isinstance(text, str):
        return Config.fromstring(text, '.py')
    return None


def export_member(
    pair_checkpoint: str,
    member: str,
    out: str,
    allow_unsafe: bool | None = None,
    config: str | Config | None = None,
) -> dict:
    """Write member ``member`` of ``pair_checkpoint`` as a stock checkpoint.

    The output holds ``state_dict`` (the member's own keys, as the stock
    model names them) and ``meta`` (with the pair's ``dataset_meta``:
    classes and palette). Beside it, ``<out stem>.py`` holds the member's
    complete config (:func:`member_config`), so::

        model = mmseg.apis.init_model('swin.py', 'swin.pth')
        model = mmpretrain.get_model('vit.py', pretrained='vit.pth')

    rebuild the member exactly. Both files are written atomically: an
    interrupted export never leaves a partial file.

    Args:
        pair_checkpoint (str): Checkpoint of a Bi-KD model (path or URL).
        member (str): Member name.
        out (str): Output weights file.
        allow_unsafe (bool, optional): See
            :func:`bikd_mm.utils.checkpoint.load_checkpoint_file`.
        config (str | Config, optional): The pair config. Defaults to the
            one the runner saved in the checkpoint's ``meta``; without
            either, only the weights are written (with a warning).

    Returns:
        dict: The written checkpoint; ``meta['bikd_config']`` names the
        config file written beside it.

    Raises:
        KeyError: If the checkpoint has no member of that name, listing the
            members it has.
    """
    checkpoint = load_checkpoint_file(
        pair_checkpoint, allow_unsafe, owner='export'
    )
    state = extract_state_dict(checkpoint)
    names = member_names_in(state)
    if not names:
        raise KeyError(
            f'{pair_checkpoint} is not a Bi-KD checkpoint: no '
            f'"{MEMBER_PREFIX}<name>." keys'
        )
    if member not in names:
        raise KeyError(
            f'no member {member!r} in {pair_checkpoint}; members: {names}'
        )
    prefix = f'{MEMBER_PREFIX}{member}.'
    member_state = OrderedDict(
        (k[len(prefix) :], v) for k, v in state.items() if k.startswith(prefix)
    )
    meta = (
        dict(checkpoint.get('meta', {}) or {})
        if isinstance(checkpoint, dict)
        else {}
    )
    pair_cfg = _pair_config(meta, config)
    if _wraps_another_library(pair_cfg, member, member_state):
        # timm / Hugging Face keys, as the wrapper's own checkpoints.
        member_state = OrderedDict(
            (k[len(WRAPPED) :], v) for k, v in member_state.items()
        )
    meta = {k: v for k, v in meta.items() if k in KEPT_META}
    meta.update(bikd_member=member, bikd_source=str(pair_checkpoint))
    text = None
    if pair_cfg is not None:
        text = member_config(pair_cfg, member).pretty_text
        meta['bikd_config'] = osp.basename(config_path_for(out))
    result = dict(state_dict=member_state, meta=meta)
    save_atomic(result, out)
    if text is not None:
        write_text_atomic(text, config_path_for(out))
    else:
        print_log(
            f'export: {pair_checkpoint} holds no config and none was '
            f'given; wrote the weights only ({out}). Give the pair config '
            '(--config) to write the member config beside them.',
            logger='current',
            level=logging.WARNING,
        )
    return result
