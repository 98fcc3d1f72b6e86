"""Load configs for the tools, with checked overrides."""

from mmengine.config import Config


def load_config(path: str, cfg_options: dict | None = None) -> Config:
    """Load a config file and apply ``--cfg-options`` overrides.

    Args:
        path (str): A config file, or ``'mmseg::...'`` /
            ``'mmpretrain::...'`` for a config of an installed package.
        cfg_options (dict, optional): ``{dotted.key: value}`` overrides.
            Every key's parent must exist in the config (a new leaf is
            allowed), so a misspelt key fails instead of being ignored.

    Returns:
        Config: The loaded config.

    Raises:
        FileNotFoundError: If the config file does not exist.
        KeyError: If an override's parent key is not in the config.
    """
    from bikd_mm.models.member import resolve_config_path

    cfg = Config.fromfile(resolve_config_path(path))
    if cfg_options:
        for key in cfg_options:
            check_parent_exists(cfg, key, path)
        cfg.merge_from_dict(cfg_options)
    return cfg


def check_parent_exists(
    cfg: Config, key: str, path: str, label: str = '--cfg-options'
) -> None:
    """Refuse a dotted override ``key`` whose parent is not in ``cfg``.

    Args:
        cfg (Config): The config the override applies to.
        key (str): ``dotted.key`` (list items by index).
        path (str): The config's file, for the message.
        label (str): Where the override comes from, for the message.

    Raises:
        KeyError: If a parent of the key's last part is not in ``cfg``.
    """
    node = cfg
    parts = key.split('.')
    for depth, part in enumerate(parts[:-1]):
        if (
            isinstance(node, (list, tuple))
            and part.isdigit()
            and int(part) < len(node)
        ):
            node = node[int(part)]
        elif isinstance(node, (dict, Config)) and part in node:
            node = node[part]
        else:
            raise KeyError(
                f'{label} {key}: {".".join(parts[: depth + 1])!r} is '
                f'not in the config {path}'
            )


PAIR_RUNNER = 'BiKDRunner'


def build_runner(cfg: Config):
    """The runner of a config, as ``tools/train.py`` and ``test.py`` use.

    A pair config (a ``model`` with ``members``) runs with ``BiKDRunner``,
    which completes it from the members' configs; one that does not name
    it gets it, with a notice. Other configs run with their
    ``runner_type``, or mmengine's ``Runner``. Without CUDA, a distributed
    run uses gloo (:mod:`bikd_mm.engine.runner.cpu_distributed`).

    Args:
        cfg (Config): The config, with ``launcher`` set.

    Returns:
        Runner: The built runner.
    """
    import logging

    from mmengine.logging import print_log
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from bikd_mm.engine.runner import is_pair_config
    from bikd_mm.engine.runner.cpu_distributed import use_gloo_without_cuda

    if is_pair_config(cfg) and 'runner_type' not in cfg:
        print_log(
            "a pair config needs runner_type = 'BiKDRunner' (it completes "
            "the config from the members' configs and evaluates every "
            'member); running it with BiKDRunner. Add that line to the '
            'config for stock mmseg / mmpretrain tools/train.py.',
            logger='current',
            level=logging.WARNING,
        )
        cfg.runner_type = PAIR_RUNNER
    use_gloo_without_cuda(cfg)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
