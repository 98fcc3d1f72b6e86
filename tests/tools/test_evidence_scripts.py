"""The evidence scripts under tools/evidence: valid bash, and every tool
call in them is one its tool accepts."""

import glob
import os.path as osp
import re
import shlex
import subprocess

import pytest

from ..conftest import REPO, load_tool

SCRIPTS = sorted(glob.glob(osp.join(REPO, 'tools', 'evidence', '*.sh')))


def tool_calls(path: str) -> list:
    """``(tool, argv)`` of every ``$PY tools/{analysis,misc}/<tool>.py`` call.

    Variables the script assigns (``NAME=value``, ``NAME=${NAME:-value}``)
    stand as their values, the loops' variables as ``0``.
    """
    text = open(path).read().replace('\\\n', ' ')
    values = {}
    for name, assigned in re.findall(r'^(\w+)=(\S+)$', text, re.M):
        default = re.fullmatch(r'\$\{\w+:-"?(.*?)"?\}', assigned)
        assigned = default.group(1) if default else assigned.strip('"')
        values[name] = assigned or '0'

    def substitute(match) -> str:
        return values.get(match.group(1), '0')

    calls = []
    for line in text.splitlines():
        found = re.search(r'\$PY (tools/(?:analysis|misc)/\w+\.py)(.*)', line)
        if found is None:
            continue
        args = re.sub(r'\$\{?(\w+)\}?', substitute, found.group(2))
        args = re.sub(r'\{0,1,2\}', '0', args)
        calls.append((found.group(1), shlex.split(args)))
    return calls


def test_there_are_evidence_scripts():
    names = {osp.basename(s) for s in SCRIPTS}
    assert {'fashion_cls.sh', 'fashion_seg.sh'} <= names


@pytest.mark.parametrize('script', SCRIPTS, ids=osp.basename)
def test_script_is_valid_bash(script):
    subprocess.run(['bash', '-n', script], check=True)


@pytest.mark.parametrize('script', SCRIPTS, ids=osp.basename)
def test_every_tool_call_parses(script, monkeypatch):
    calls = tool_calls(script)
    assert calls, f'{script} calls no tool'
    for tool, argv in calls:
        args = load_tool(tool).parse_args(argv)
        # The configs it names exist.
        for value in vars(args).values():
            if isinstance(value, str) and value.endswith('.py'):
                assert osp.isfile(osp.join(REPO, value)), (tool, value)


@pytest.mark.parametrize('script', SCRIPTS, ids=osp.basename)
def test_runs_and_starts_are_kept_in_the_repository(script):
    # A comparison resumes in a new checkout only from committed records
    # and the committed pre-trainings they were run from.
    text = open(script).read()
    for name, folder in (
        ('RECORDS', 'docs/results/'),
        ('KEPT', 'checkpoints/'),
    ):
        value = re.search(rf'^{name}=(\S+)$', text, re.M).group(1)
        default = re.fullmatch(rf'\$\{{{name}:-(.*)\}}', value)
        value = default.group(1) if default else value
        assert value.startswith(folder), (name, value)
    calls = dict((osp.basename(t), a) for t, a in tool_calls(script))
    assert '--record-dir' in calls['compare_transfer.py']
    assert '--pretrain-seeds' in calls['compare_transfer.py']
    assert '--keep-dir' in calls['pretrain_members.py']
