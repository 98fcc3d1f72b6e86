"""tools/analysis/print_pair_config.py: what each member of a pair config
trains, and the table of shipped configs in docs/train_a_pair.md."""

import os.path as osp
import re
import subprocess
import sys

from ..conftest import REPO

TOOL = osp.join(REPO, 'tools/analysis/print_pair_config.py')
DOC = osp.join(REPO, 'docs/train_a_pair.md')
# The command the doc names, relative to the repository root.
PATTERNS = ('configs/bikd/*.py', 'configs/bikd/demo/*_pair_*.py')


def tool(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, TOOL, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_doc_table_is_the_tools_output():
    done = tool('--markdown', *PATTERNS)
    assert done.returncode == 0, done.stderr[-3000:]
    text = open(DOC).read()
    assert 'print_pair_config.py --markdown ' + ' '.join(PATTERNS) in text
    table = re.search(
        r'<!-- begin generated table -->\n(.*)<!-- end generated table -->',
        text,
        re.S,
    ).group(1)
    assert table.strip() == done.stdout.strip(), (
        'docs/train_a_pair.md is out of date: paste the output of '
        f'print_pair_config.py --markdown {" ".join(PATTERNS)}'
    )
    # What the headline pair trains.
    rows = {
        tuple(cell.strip() for cell in line.strip('|').split('|')[:3])
        for line in done.stdout.splitlines()
    }
    assert ('seg_pair_r50_swin.py', 'r50', 'OptimWrapper(AdamW)') in rows
    assert ('seg_pair_r50_swin.py', 'swin', 'OptimWrapper(AdamW)') in rows
    swin = next(
        line
        for line in done.stdout.splitlines()
        if line.startswith('| seg_pair_r50_swin.py | swin |')
    )
    # Swin keeps its no-decay groups; lr 1e-6 from start to end.
    cells = [c.strip() for c in swin.strip('|').split('|')]
    assert cells[3:5] == ['1e-06', '1e-05']
    assert cells[5].startswith('decay x0: absolute_pos_embed')
    assert cells[8:12] == ['80000 iters', '0 iters', '1e-06', '0']


def test_a_refused_config_is_shown_and_named(tmp_path):
    path = tmp_path / 'rising.py'
    path.write_text(
        f'_base_ = [{osp.join(REPO, "configs/bikd/demo/cls_pair_digits.py")!r}]\n'  # noqa: E501
        'param_scheduler = [dict(type="PolyLR", eta_min=1e-2, '
        'by_epoch=False, begin=0, end=150)]\n'
    )
    done = tool(str(path))
    assert done.returncode == 1
    assert 'REFUSED' in done.stderr and "member 'cnn'" in done.stderr
    assert 'peak lr' in done.stdout and '0.01' in done.stdout
