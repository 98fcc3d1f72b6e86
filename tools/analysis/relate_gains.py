"""Relate the members' complementarity before training to the gains of
each transfer regime, start by start.

Reads a ``compare_transfer.py`` result and one ``complementarity.py``
result per pretrained start of it (matched by their member checkpoints)
and writes ``<out>.md`` and ``<out>.json``: per start and pair of members,
the share of samples (or pixels) where one member is right and the other
wrong, the oracle ensemble's margin over the better member, and each
regime's mean gain over independent fine-tuning per member.

Usage::

    python tools/analysis/relate_gains.py COMPARE.json \\
        COMPLEMENTARITY.json [COMPLEMENTARITY.json ...] --out PREFIX
"""

import argparse
import json
import shlex
import sys

from bikd_mm.apis.complementarity import relate_gains, relation_markdown
from bikd_mm.utils.io import dump_json_atomic, write_text_atomic


def _load(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f'{path}: cannot read it as JSON ({e})') from e


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('compare', help='compare_transfer.py result (JSON)')
    parser.add_argument(
        'complementarity', nargs='+', help='complementarity.py results'
    )
    parser.add_argument('--out', required=True, help='output prefix')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        relation = relate_gains(
            _load(args.compare), [_load(p) for p in args.complementarity]
        )
    except ValueError as e:
        raise SystemExit(str(e)) from e
    command = 'python tools/analysis/relate_gains.py ' + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    relation['command'] = command
    text = relation_markdown(relation) + f'\nCommand: `{command}`\n'
    write_text_atomic(text, f'{args.out}.md')
    dump_json_atomic(relation, f'{args.out}.json')
    print(text)
    return relation


if __name__ == '__main__':
    main()
