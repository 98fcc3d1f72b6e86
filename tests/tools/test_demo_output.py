"""The demo's output is its result table, not the pinned stack's
warnings: bikd_mm's own are gone, known upstream ones are filtered."""

import os
import re
import subprocess
import sys

from ..conftest import REPO

# Python warnings (UserWarning: ...) and mmengine's ' - WARNING - ' lines.
WARNING = re.compile(r'\w*Warning:|\bWARNING\b|\bwarnings\.warn\(')


def test_demo_output_is_its_result_table(tmp_path):
    env = dict(os.environ, BIKD_CACHE=str(tmp_path / 'cache'))
    env.pop('PYTHONWARNINGS', None)
    result = subprocess.run(
        [
            sys.executable,
            'tools/demo/run_demo.py',
            'cls',
            '--data',
            'digits',
            '--pretrain-iters',
            '2',
            '--pair-iters',
            '1',
            '--work-dir',
            str(tmp_path / 'demo'),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = (result.stdout + result.stderr).splitlines()
    noisy = [line for line in lines if WARNING.search(line)]
    assert not noisy, noisy
    assert any(
        line.startswith('| member | accuracy/top1 before |') for line in lines
    )
    assert len(lines) <= 12, lines
