"""Build the member models of a Bi-KD pair from stock configs.

A member is described by a dict::

    dict(name='r50',
         config='mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
         checkpoint='https://download.openmmlab.com/...pth',
         cfg_options=dict(...))

or with an inline ``model=dict(type='EncoderDecoder', ...)`` instead of
``config``. The member is the stock model that the config describes, built
by the stock registry, unmodified.
"""

import copy
import keyword
import os.path as osp
from dataclasses import dataclass, field

import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope, Registry
from mmengine.utils import get_installed_path

MEMBER_KEYS = (
    'name',
    'config',
    'model',
    'checkpoint',
    'cfg_options',
    'strict',
)


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
        package = {'mmseg': 'mmsegmentation'}.get(package, package)
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
    """

    name: str
    model: ConfigDict
    config: Config | None = None
    config_path: str | None = None
    checkpoint: str | None = None
    strict: bool = True
    extra: dict = field(default_factory=dict)


def parse_members(members: list) -> list[MemberSpec]:
    """Validate member dicts and load their configs.

    Args:
        members (list[dict]): Member descriptions (see module docstring).

    Returns:
        list[MemberSpec]: One spec per member, in order.

    Raises:
        ValueError: On fewer than two members, duplicate or invalid names,
            unknown keys, or a member with neither ``config`` nor ``model``.
        FileNotFoundError: If a member's config file does not exist.
    """
    if not isinstance(members, (list, tuple)) or len(members) < 2:
        raise ValueError(
            'a Bi-KD pair needs at least two members, got '
            f'{len(members) if isinstance(members, (list, tuple)) else 0}'
        )
    specs, seen = [], set()
    for i, member in enumerate(members):
        member = dict(member)
        name = member.get('name')
        where = f'members[{i}]'
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
                checkpoint=member.get('checkpoint'),
                strict=member.get('strict', True),
            )
        )
    return specs


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
        _drop_pretrained(model_cfg)
    # Nested builds inside the member (its data preprocessor) resolve in the
    # member library's scope, whatever scope the caller runs in.
    with DefaultScope.overwrite_default_scope(registry.scope):
        model = registry.build(model_cfg)
    if spec.checkpoint is not None:
        load_member_checkpoint(model, spec)
    return model


def _drop_pretrained(model_cfg: dict) -> None:
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

    Raises:
        FileNotFoundError: If a local checkpoint file does not exist.
        RuntimeError: If the keys do not match (with ``strict``), naming the
            member and listing missing and unexpected keys.
    """
    from bikd_mm.utils.checkpoint import load_state_dict_safely

    load_state_dict_safely(
        model,
        spec.checkpoint,
        strict=spec.strict,
        owner=f'member {spec.name!r}',
    )
