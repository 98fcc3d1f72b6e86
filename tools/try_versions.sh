#!/usr/bin/env bash
# Try bikd_mm with other releases of pure-Python OpenMMLab packages than
# the lock's, on top of the pinned stack (no rebuild of mmcv).
#
#   bash tools/try_versions.sh 'mmengine==0.10.0' ['mmsegmentation==1.2.0' ...]
#
# A throwaway venv reaches the cached stack through a .pth file (as
# tools/setup_env.sh links .venv); the given releases are installed into
# the venv itself, without their dependencies, and shadow the stack's.
# bikd_mm is used from this checkout. Then the tests that exercise what
# these packages provide to bikd_mm run: the library patches, the
# config scope, training and testing a stock config through the tools,
# and a pair trained, resumed and exported (tests/engine/test_pair_runner.py
# for segmentation, tests/models/classifiers/test_cls_pair_runner.py for
# classification). Extra pytest arguments: PYTEST_ARGS.
# docs/install.md lists what was tried and the result.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv_py=${VENV:-$root/.venv}/bin/python
[ $# -gt 0 ] || { echo "usage: $0 PKG==VERSION ..." >&2; exit 2; }

stack_site=$("$venv_py" -c \
  'import os, mmcv; print(os.path.dirname(os.path.dirname(mmcv.__file__)))')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
base=$("$venv_py" -c 'import sys; print(sys._base_executable)')
"$base" -m venv --without-pip "$tmp/venv"
py=$tmp/venv/bin/python
site=$("$py" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
echo "$stack_site" > "$site/_stack.pth"
"$py" -m pip install -q --no-deps "$@"
"$py" - "$@" <<'EOF_PY'
import importlib.metadata as md
import sys

for spec in sys.argv[1:]:
    name, version = spec.split('==')
    assert md.version(name) == version, (name, md.version(name))
    print(f'[try_versions] {name} {md.version(name)}')
EOF_PY
cd "$root"
# shellcheck disable=SC2086
PYTHONPATH=$root "$py" -m pytest -q -p no:cacheprovider \
  tests/test_patches.py tests/packaging/test_config_scope.py \
  tests/tools/test_train_tool.py tests/engine/test_pair_runner.py \
  tests/models/classifiers/test_cls_pair_runner.py ${PYTEST_ARGS:-}
