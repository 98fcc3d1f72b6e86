"""Export one member of a Bi-KD checkpoint as a plain checkpoint and config.

Installed as ``bikd-export``; also ``python -m bikd_mm.tools.export_member``
and ``python tools/export_member.py`` in a checkout. Example::

    bikd-export work_dirs/pair/iter_8000.pth --member swin --out swin.pth

writes ``swin.pth`` (weights and dataset meta) and ``swin.py`` (the
member's complete config: its model as the pair built it, the pair's test
pipeline and metrics), which stock mmseg / mmpretrain load::

    model = mmseg.apis.init_model('swin.py', 'swin.pth')
"""

import argparse

from bikd_mm.utils.export import config_path_for, export_member


def main(argv: list[str] | None = None) -> None:
    """Run the tool on ``argv`` (default: the command line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='Bi-KD checkpoint (path or URL)')
    parser.add_argument('--member', required=True, help='member name')
    parser.add_argument(
        '--out',
        required=True,
        help='output .pth file; the config goes beside it as .py',
    )
    parser.add_argument(
        '--config',
        help='the pair config (default: the one saved in the checkpoint)',
    )
    parser.add_argument(
        '--allow-unsafe-checkpoint',
        action='store_true',
        help='read a checkpoint that needs full unpickling (only for '
        'files you trust)',
    )
    args = parser.parse_args(argv)
    result = export_member(
        args.checkpoint,
        args.member,
        args.out,
        allow_unsafe=args.allow_unsafe_checkpoint or None,
        config=args.config,
    )
    print(
        f'wrote {args.out}: member {args.member!r}, '
        f'{len(result["state_dict"])} tensors'
    )
    if 'bikd_config' in result['meta']:
        print(f'wrote {config_path_for(args.out)}: its config')


if __name__ == '__main__':
    main()
