"""Build the member models of a Bi-KD pair from stock configs.

A member is described by a dict::

    dict(name='r50',
         config='mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
         checkpoint='https://download.openmmlab.com/...pth',
         cfg_options=dict(...),
         strict=True,        # the checkpoint must match the model exactly
         min_loaded=0.5)     # with strict=False: least share loaded

or with an inline ``model=dict(type='EncoderDecoder', ...)`` instead of
``config``. The member is the stock model that the config describes, built
by the stock registry, unmodified.

``members`` is a list of such dicts, or a dict keyed by member name (the
order of the dict is the member order; ``name`` may then be left out)::

    members = dict(
        r50=dict(config='mmseg::upernet/...py', checkpoint='r50.pth'),
        swin=dict(config='mmseg::swin/...py', checkpoint='swin.pth'),
    )

so that a derived config or ``--cfg-options model.members.r50.checkpoint=
...`` changes one member and keeps the others.
"""

import copy
import keyword
import os.path as osp
from dataclasses import dataclass, field

import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.registry import DefaultScope, Registry
from mmengine.utils import get_installed_path

from bikd_mm.models.option_checks import check_flag, check_fraction

MEMBER_KEYS = (
    'name',
    'config',
    'model',
    'checkpoint',
    'cfg_options',
    'strict',
    'min_loaded',
)
# Keys next to the member names in a completed pair config.
RESERVED_NAMES = ('constructor',)
# Share of a member's tensors that a checkpoint loaded with strict=False
# must provide (see load_member_checkpoint).
DEFAULT_MIN_LOADED = 0.5


def resolve_config_path(path: str) -> str:
    """Resolve ``'pkg::relative/path.py'`` to a file in an installed package.

    Args:
        path (str): A file path, or ``'<package>::<path under configs>'``
            (``mmseg::``, ``mmpretrain::``, ...), as in ``_base_`` lists.

    Returns:
        str: An existing file path.

    Raises:
        FileNotFoundError: If the file does not exist.
    """
    if '::' in path:
        package, rel = path.split('::', 1)
        # The scope's package, as mmengine resolves ``_base_`` entries
        # (``mmseg`` -> ``mmsegmentation``; ``bikd_mm``, see
        # :func:`bikd_mm.patches.register_config_scope`).
        package = MODULE2PACKAGE.get(package, package)
        try:
            root = get_installed_path(package)
        except Exception as err:
            raise FileNotFoundError(
                f'config {path!r}: package {package!r} is not installed'
            ) from err
        resolved = osp.join(root, '.mim', 'configs', rel)
    else:
        resolved = path
    if not osp.isfile(resolved):
        raise FileNotFoundError(
            f'member config not found: {path!r}'
            + (f' (looked at {resolved})' if resolved != path else '')
        )
    return resolved


@dataclass
class MemberSpec:
    """A parsed member description.

    Args:
        name (str): Member name, used in loss keys, metrics and exports.
        model (ConfigDict): The member's model config.
        config (Config, optional): The member's whole config (optimizer,
            schedules) when it came from a file.
        config_path (str, optional): Where ``config`` came from.
        checkpoint (str, optional): Path or URL of the member's weights.
        strict (bool): Whether the checkpoint must match the model exactly.
        min_loaded (float): With ``strict=False``, the least share of the
            model's tensors the checkpoint must provide.
    """

    name: str
    model: ConfigDict
    config: Config | None = None
    config_path: str | None = None
    checkpoint: str | None = None
    strict: bool = True
    min_loaded: float = DEFAULT_MIN_LOADED
    extra: dict = field(default_factory=dict)


def member_list(members: list | dict) -> list[dict]:
    """The member dicts in member order, each with its ``name``.

    Args:
        members (list[dict] | dict): A list of member dicts, or a dict of
            them keyed by name.

    Returns:
        list[dict]: The member dicts (copies).

    Raises:
        TypeError: If a keyed member is not a dict.
        ValueError: If a keyed member's ``name`` differs from its key.
    """
    if isinstance(members, dict):
        out = []
        for key, member in members.items():
            if not isinstance(member, dict):
                raise TypeError(
                    f'members.{key} must be a dict (config or model, '
                    f'checkpoint, ...), got {type(member).__name__} '
                    f'{_short(member)}'
                )
            member = dict(member)
            if member.setdefault('name', key) != key:
                raise ValueError(
                    f'members.{key}: "name" is {member["name"]!r}; a '
                    'member keyed by name needs no "name", or the same'
                )
            out.append(member)
        return out
    if isinstance(members, (list, tuple)):
        return [dict(m) if isinstance(m, dict) else m for m in members]
    return members


def parse_members(members: list | dict) -> list[MemberSpec]:
    """Validate member dicts and load their configs.

    Args:
        members (list[dict] | dict): Member descriptions (see module
            docstring), a list or a dict keyed by name.

    Returns:
        list[MemberSpec]: One spec per member, in order.

    Raises:
        TypeError: If ``members`` is not a list of dicts, or a member's
            ``strict``, ``checkpoint`` or ``cfg_options`` has the wrong
            type.
        ValueError: On fewer than two members, duplicate or invalid names,
            unknown keys, a member with neither ``config`` nor ``model``,
            or ``min_loaded`` outside ``[0, 1]``.
        KeyError: If a ``cfg_options`` key's parent is not in the
            member's config.
        FileNotFoundError: If a member's config file does not exist.
    """
    members = member_list(members)
    if not isinstance(members, (list, tuple)):
        raise TypeError(
            'members must be a list of member dicts (name, config or '
            'model, checkpoint, ...) or a dict of them keyed by name, '
            f'got {type(members).__name__} '
            f'{_short(members)}'
        )
    if len(members) < 2:
        raise ValueError(
            f'a Bi-KD pair needs at least two members, got {len(members)}'
        )
    specs, seen = [], set()
    for i, member in enumerate(members):
        where = f'members[{i}]'
        if not isinstance(member, dict):
            raise TypeError(
                f'{where} must be a dict (name, config or model, '
                f'checkpoint, ...), got {type(member).__name__} '
                f'{_short(member)}'
            )
        member = dict(member)
        name = member.get('name')
        if (
            not isinstance(name, str)
            or not name.isidentifier()
            or keyword.iskeyword(name)
        ):
            raise ValueError(
                f'{where}: "name" must be a Python identifier, got {name!r}'
            )
        if name in seen:
            raise ValueError(f'{where}: duplicate member name {name!r}')
        if name in RESERVED_NAMES:
            raise ValueError(
                f'{where}: member name {name!r} is reserved (a key of the '
                f'completed optim_wrapper); choose another name'
            )
        seen.add(name)
        unknown = set(member) - set(MEMBER_KEYS)
        if unknown:
            raise ValueError(
                f'member {name!r}: unknown keys '
                f'{sorted(unknown)}; allowed: {MEMBER_KEYS}'
            )
        cfg, cfg_path = None, None
        if member.get('config') is not None:
            try:
                cfg_path = resolve_config_path(member['config'])
            except FileNotFoundError as err:
                raise FileNotFoundError(f'member {name!r}: {err}') from err
            cfg = Config.fromfile(cfg_path)
            # Copies: merging consumes ``_delete_`` keys, and a member dict
            # is parsed more than once (completion, build).
            if member.get('cfg_options'):
                _check_cfg_options(name, cfg, cfg_path, member['cfg_options'])
                cfg.merge_from_dict(copy.deepcopy(member['cfg_options']))
            if member.get('model') is not None:
                cfg.merge_from_dict(dict(model=copy.deepcopy(member['model'])))
            if 'model' not in cfg:
                raise ValueError(
                    f'member {name!r}: config {cfg_path} has no "model" key'
                )
            model = copy.deepcopy(cfg.model)
            if cfg.get('data_preprocessor') is not None:
                # As the runner does: mmpretrain configs give the
                # preprocessor (normalisation) at the top level.
                model.setdefault(
                    'data_preprocessor', copy.deepcopy(cfg.data_preprocessor)
                )
        elif member.get('model') is not None:
            model = ConfigDict(copy.deepcopy(member['model']))
        else:
            raise ValueError(
                f'member {name!r}: give "config" (a file or '
                '"mmseg::..." path) or an inline "model" dict'
            )
        specs.append(
            MemberSpec(
                name=name,
                model=model,
                config=cfg,
                config_path=cfg_path,
                checkpoint=_check_checkpoint(name, member.get('checkpoint')),
                strict=check_flag(
                    f'member {name!r}', 'strict', member.get('strict', True)
                ),
                min_loaded=check_fraction(
                    f'member {name!r}',
                    'min_loaded',
                    member.get('min_loaded', DEFAULT_MIN_LOADED),
                ),
            )
        )
    return specs


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _check_checkpoint(name: str, checkpoint):
    if checkpoint is not None and not (
        isinstance(checkpoint, str) and checkpoint
    ):
        raise TypeError(
            f'member {name!r}: checkpoint must be a path or URL, got '
            f'{_short(checkpoint)}'
        )
    return checkpoint


def _check_cfg_options(name: str, cfg: Config, path: str, options) -> None:
    """Refuse ``cfg_options`` keys whose parent is not in the member's
    config: a misspelt key would otherwise be added, unused."""
    from bikd_mm.utils.config import check_parent_exists

    if not isinstance(options, dict):
        raise TypeError(
            f'member {name!r}: cfg_options must be a dict of '
            f'{{dotted.key: value}}, got {_short(options)}'
        )
    for key in options:
        check_parent_exists(cfg, key, path, f'member {name!r}: cfg_options')


def build_member(spec: MemberSpec, registry: Registry) -> nn.Module:
    """Build a member model and load its checkpoint.

    Args:
        spec (MemberSpec): The member.
        registry (Registry): The stock registry that builds it
            (``mmseg.registry.MODELS``, ``mmpretrain.registry.MODELS``).

    Returns:
        nn.Module: The stock model with the checkpoint's weights.
    """
    model_cfg = copy.deepcopy(spec.model)
    if spec.checkpoint is not None:
        # The member's weights come from its checkpoint: an ImageNet
        # initialisation of the backbone would only be overwritten (and
        # would try to download).
        drop_pretrained(model_cfg)
    # Nested builds inside the member (its data preprocessor) resolve in the
    # member library's scope, whatever scope the caller runs in.
    with DefaultScope.overwrite_default_scope(registry.scope):
        model = registry.build(model_cfg)
    if spec.checkpoint is not None:
        load_member_checkpoint(model, spec)
    return model


def drop_pretrained(model_cfg: dict) -> None:
    """Drop the ImageNet initialisation of a model config, in place."""
    if 'pretrained' in model_cfg:
        model_cfg['pretrained'] = None
    for key in ('backbone', 'encoder'):
        sub = model_cfg.get(key)
        if (
            isinstance(sub, dict)
            and isinstance(sub.get('init_cfg'), dict)
            and sub['init_cfg'].get('type') == 'Pretrained'
        ):
            sub['init_cfg'] = None


def load_member_checkpoint(model: nn.Module, spec: MemberSpec) -> None:
    """Load ``spec.checkpoint`` into ``model`` with safe unpickling.

    Args:
        model (nn.Module): The member model.
        spec (MemberSpec): The member (its ``checkpoint`` and ``strict``).

    Logs how many of the model's tensors the checkpoint loaded, and how
    many were missing, unexpected or mis-shaped.

    Raises:
        FileNotFoundError: If a local checkpoint file does not exist.
        RuntimeError: If the keys do not match (with ``strict``), or fewer
            than ``spec.min_loaded`` of the tensors were loaded (without),
            naming the member and listing missing and unexpected keys.
    """
    from bikd_mm.utils.checkpoint import load_state_dict_safely

    load_state_dict_safely(
        model,
        spec.checkpoint,
        strict=spec.strict,
        owner=f'member {spec.name!r}',
        min_loaded=spec.min_loaded,
        min_loaded_key='min_loaded',
    )
