"""The code parses under Python 3.10 and 3.12, and imports no standard
module that those versions lack (e.g. ``tomllib``, new in 3.11;
``distutils``, gone in 3.12).

The whole package runs only under the stack's interpreter (mmcv's compiled
ops are built for it); ``make test-pythons`` runs the core tests under
3.10 and 3.12.
"""

import ast
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

from ..conftest import REPO

SOURCES = ('bikd_mm', 'tools', 'tests', 'configs', 'benchmarks')
CHECK = r"""
import json, sys
paths, imported = json.loads(sys.stdin.read())
errors = []
for path in paths:
    with open(path, encoding='utf-8') as f:
        source = f.read()
    try:
        compile(source, path, 'exec', dont_inherit=True)
    except SyntaxError as err:
        errors.append(f'{path}:{err.lineno}: {err.msg}')
print(json.dumps(dict(
    version=list(sys.version_info[:2]),
    errors=errors,
    missing=sorted(set(imported) - set(sys.stdlib_module_names)),
)))
"""


def find_python(version: str) -> str | None:
    candidates = [shutil.which(f'python{version}')]
    root = os.environ.get('PYENV_ROOT', osp.expanduser('~/.pyenv'))
    candidates += sorted(
        glob.glob(
            osp.join(
                root, 'versions', f'{version}.*', 'bin', f'python{version}'
            )
        )
    )
    for candidate in candidates:
        if (
            candidate
            and subprocess.run(
                [candidate, '-c', 'import sys'], capture_output=True
            ).returncode
            == 0
        ):
            return candidate
    return None


def python_files() -> list[str]:
    files = []
    for top in SOURCES:
        files += glob.glob(osp.join(REPO, top, '**', '*.py'), recursive=True)
    return sorted(f for f in files if '.mim' not in f)


def stdlib_imports(paths: list[str]) -> list[str]:
    """Top-level standard modules (of this interpreter) that ``paths``
    import."""
    names = set()
    for path in paths:
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name.split('.')[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names.add(node.module.split('.')[0])
    return sorted(names & set(sys.stdlib_module_names))


@pytest.mark.parametrize('version', ['3.10', '3.12'])
def test_code_parses_and_finds_its_standard_modules(version):
    python = find_python(version)
    if python is None:
        pytest.skip(f'no Python {version} interpreter on PATH or in pyenv')
    paths = python_files()
    assert len(paths) > 100
    done = subprocess.run(
        [python, '-c', CHECK],
        input=json.dumps([paths, stdlib_imports(paths)]),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result['version'] == [int(v) for v in version.split('.')]
    assert result['errors'] == []
    assert result['missing'] == []


def test_the_check_catches_newer_syntax_and_modules(tmp_path):
    """Under 3.10, ``except*`` (3.11) is a syntax error and ``tomllib``
    (3.11) is missing: the check above can fail."""
    python = find_python('3.10')
    if python is None:
        pytest.skip('no Python 3.10 interpreter on PATH or in pyenv')
    bad = tmp_path / 'new.py'
    bad.write_text(
        'import tomllib\ntry:\n    pass\nexcept* ValueError:\n    pass\n'
    )
    done = subprocess.run(
        [python, '-c', CHECK],
        input=json.dumps([[str(bad)], stdlib_imports([str(bad)])]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = json.loads(done.stdout)
    assert len(result['errors']) == 1 and 'new.py:4' in result['errors'][0]
    assert result['missing'] == ['tomllib']
