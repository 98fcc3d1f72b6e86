#!/usr/bin/env bash
# Run bikd_mm's core tests (bikd_mm.core: plain PyTorch) under other
# Python versions than the pinned stack's 3.11.
#
#   bash tools/test_pythons.sh [VERSION ...]     (default: 3.10 3.12)
#
# For each version, an environment is made once per machine under
# $BIKD_CACHE/pythons/ (default ~/.cache/bikd_mm): the lock's torch
# (requirements/torch.txt) for that interpreter, Triton, mmengine and
# pytest, from the package registry (about 600 MB to download, 2.6 GB on
# disk and a minute per version). torch's CUDA libraries are the pinned
# stack's, linked, not downloaded again. The whole package cannot be imported there: mmcv's
# compiled ops exist only for the stack's interpreter (a build per Python
# version takes 15-30 minutes), and ``import bikd_mm`` registers mmseg and
# mmpretrain models that need them. The core tests therefore run with the
# registration left out (tests/packaging/bare_package.py).
#
# Interpreters: python3.X on PATH, else pyenv's ($PYENV_ROOT/versions).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${BIKD_CACHE:-$HOME/.cache/bikd_mm}
venv_py=${VENV:-$root/.venv}/bin/python
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.10 3.12)

log() { printf '[test_pythons] %s\n' "$*" >&2; }

torch_req=$(grep -E '^torch==' "$root/requirements/torch.txt")
mmengine_req=$(grep -E '^mmengine==' "$root/requirements/runtime.txt")
stack_site=$("$venv_py" -c \
  'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
triton_req=$("$venv_py" - <<'EOF_PY'
import importlib.metadata as md
print('triton==' + md.version('triton'))
EOF_PY
)

find_python() {
  local v=$1 candidate
  for candidate in "$(command -v "python$v" 2>/dev/null || true)" \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] &&
        "$candidate" -c 'import sys' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  return 1
}

status=0
for v in "${versions[@]}"; do
  if ! python=$(find_python "$v"); then
    log "no Python $v interpreter found (PATH, pyenv): not tested"
    status=1
    continue
  fi
  env=$cache/pythons/py${v/./}-${torch_req#torch==}
  if [ ! -f "$env/.complete" ]; then
    log "making $env with $python"
    rm -rf "$env"
    "$python" -m venv "$env"
    # torch without its CUDA wheels (linked below), its other requirements
    # by name.
    "$env/bin/python" -m pip install -q --no-deps "$torch_req" "$triton_req"
    "$env/bin/python" -m pip install -q filelock typing-extensions sympy \
      networkx jinja2 fsspec numpy pytest "$mmengine_req"
    mkdir -p "$env/cuda-libs"
    ln -sfn "$stack_site/nvidia" "$env/cuda-libs/nvidia"
    site=$("$env/bin/python" -c \
      'import sysconfig; print(sysconfig.get_path("purelib"))')
    echo "$env/cuda-libs" > "$site/_stack_cuda_libs.pth"
    touch "$env/.complete"
  fi
  log "Python $v: $("$env/bin/python" -c 'import sys; print(sys.version.split()[0])')"
  # The GPU compile check imports the whole package in a subprocess; it
  # runs under the stack's interpreter in `make test`.
  (cd "$root" && "$env/bin/python" -m pytest -q -p tests.packaging.bare_package \
    tests/core --deselect \
    tests/core/test_core_ce_masked_kl_triton.py::test_kernels_compile_for_a_gpu) \
    || status=1
done
exit $status
