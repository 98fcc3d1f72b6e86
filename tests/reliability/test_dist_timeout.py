"""Two CPU ranks (gloo): when one rank dies or hangs, the other exits with
an error within the process-group timeout instead of waiting forever.

The ranks are started directly, not by ``torch.distributed.run`` (which
would also stop the survivors when a rank fails), so that only the
process group's own failure detection and timeout are at work.
"""

import os
import socket
import subprocess
import sys
import time

import pytest

from ..conftest import REPO
from .pair_run import train_env, write_pair_config

TIMEOUT_S = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_ranks(config: str, work, stall: str, marker) -> list:
    port = free_port()
    procs = []
    for rank in range(2):
        env = train_env(
            BIKD_TEST_STALL=stall,
            BIKD_TEST_STALL_MARKER=str(marker),
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=str(port),
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE='2',
        )
        log = open(work / f'rank{rank}.log', 'w+')
        procs.append(
            (
                subprocess.Popen(
                    [
                        sys.executable,
                        'tools/train.py',
                        config,
                        '--launcher',
                        'pytorch',
                        '--work-dir',
                        str(work),
                        '--cfg-options',
                        "env_cfg.dist_cfg.backend='gloo'",
                        f'env_cfg.dist_cfg.timeout={TIMEOUT_S}',
                    ],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ),
                log,
            )
        )
    return procs


@pytest.mark.parametrize('fault', ['die', 'hang'])
def test_survivor_exits_when_a_rank_fails(tmp_path, seg_data_root, fault):
    config = write_pair_config(tmp_path, seg_data_root, iters=6)
    work = tmp_path / 'work'
    work.mkdir()
    marker = tmp_path / 'rank1_failed'
    (rank0, log0), (rank1, log1) = start_ranks(
        config, work, f'{fault}:1:2', marker
    )
    try:
        # Generous for start-up on a loaded machine: what is measured is
        # the time from rank 1's failure to rank 0's end.
        rank0.wait(timeout=300)
        ended = time.time()
    finally:
        for proc, log in ((rank0, log0), (rank1, log1)):
            proc.kill()
            proc.wait()
            log.close()
    output = (work / 'rank0.log').read_text()
    assert rank0.returncode != 0, output[-3000:]
    assert (
        'rank 0 of 2 stopped at iteration 2: another rank crashed, was '
        'killed or did not answer within the process-group timeout '
        f'({TIMEOUT_S} s' in output
    ), output[-3000:]
    waited = ended - os.stat(marker).st_mtime
    if fault == 'hang':
        assert 'Timed out waiting' in output
        assert TIMEOUT_S - 1 < waited < TIMEOUT_S + 60
    else:
        assert waited < TIMEOUT_S + 60
