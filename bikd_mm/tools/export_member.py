"""Export one member of a Bi-KD checkpoint as a plain checkpoint.

Installed as ``bikd-export``; also ``python -m bikd_mm.tools.export_member``
and ``python tools/export_member.py`` in a checkout. Example::

    bikd-export work_dirs/pair/iter_8000.pth --member swin --out swin.pth
"""

import argparse

from bikd_mm.utils.export import export_member


def main(argv: list[str] | None = None) -> None:
    """Run the tool on ``argv`` (default: the command line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='Bi-KD checkpoint (path or URL)')
    parser.add_argument('--member', required=True, help='member name')
    parser.add_argument('--out', required=True, help='output .pth file')
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
    )
    print(
        f'wrote {args.out}: member {args.member!r}, '
        f'{len(result["state_dict"])} tensors'
    )


if __name__ == '__main__':
    main()
