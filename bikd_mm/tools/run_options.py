"""Command-line options that ``train`` and ``test`` share."""

import argparse
import os

from mmengine.config import DictAction


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--allow-unsafe-checkpoint``, ``--cfg-options``, ``--launcher``
    and ``--local-rank`` (as mmseg's and mmpretrain's tools name them).

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
    """
    parser.add_argument(
        '--allow-unsafe-checkpoint',
        action='store_true',
        help='load checkpoints that need full unpickling (only for files '
        'you trust)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_run_args(
    parser: argparse.ArgumentParser, argv: list | None = None
) -> argparse.Namespace:
    """Parse ``argv``; ``LOCAL_RANK`` from ``--local-rank`` when unset.

    Args:
        parser (argparse.ArgumentParser): A parser with
            :func:`add_run_options`.
        argv (list[str], optional): Arguments (default: ``sys.argv``).

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args
