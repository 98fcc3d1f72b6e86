"""Build every dataset a config reads, so that generated ones exist.

Datasets that bikd_mm generates (the digits, the Fashion scenes) are
written to their cache on first use. Several processes that start at once
(``pretrain_members.py --workers N``) would each generate them; this tool
does it once beforehand and prints every split's size::

    python tools/misc/prepare_data.py \\
        configs/bikd/fashion/seg_pair_fashion_scenes.py
"""

import argparse

from mmengine.config import Config, DictAction
from mmengine.registry import DATASETS, init_default_scope
from mmengine.utils import import_modules_from_strings

SPLITS = ('train', 'val', 'test')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides of the config, key=value',
    )
    return parser.parse_args(argv)


def prepare_data(cfg: Config) -> dict:
    """Build the dataset of each of the config's dataloaders.

    Args:
        cfg (Config): A training config (a pair's or a member's).

    Returns:
        dict: ``{split: number of samples}`` of the splits it has.

    Raises:
        KeyError: The config has no dataloader with a dataset.
    """
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope') or 'mmseg')
    sizes = {}
    for split in SPLITS:
        loader = cfg.get(f'{split}_dataloader')
        if loader and loader.get('dataset'):
            sizes[split] = len(DATASETS.build(loader['dataset']))
    if not sizes:
        raise KeyError(
            f'{cfg.filename}: no train_dataloader, val_dataloader or '
            'test_dataloader with a dataset'
        )
    return sizes


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    sizes = prepare_data(cfg)
    for split, size in sizes.items():
        print(f'{split}: {size} samples')
    return sizes


if __name__ == '__main__':
    main()
