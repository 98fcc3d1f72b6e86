#!/usr/bin/env bash
# Set up a virtual environment with the pinned OpenMMLab stack and bikd_mm.
#
#   bash tools/setup_env.sh [VENV]        (default VENV: ./.venv)
#
# The pinned stack (requirements/*.txt) is installed once per machine into a
# shared, versioned environment under $BIKD_CACHE (default
# ~/.cache/bikd_mm), and the project's VENV reaches it through a .pth file.
# A second clone therefore sets up in seconds instead of reinstalling
# several GB. mmcv 2.1.0 has no wheel for this torch: it is built from source
# with its C++ ops (CUDA ops too when a GPU and nvcc are present) and the
# wheel is cached under a key of mmcv, torch, CUDA and Python versions.
#
# Environment: PYTHON (interpreter, default python3.11), BIKD_CACHE,
# MAX_JOBS (parallel compile jobs for mmcv, default: number of cores).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$root/.venv}
python=${PYTHON:-python3.11}
cache=${BIKD_CACHE:-$HOME/.cache/bikd_mm}
mmcv_version=2.1.0
# Bump when the way the stack is assembled changes.
stack_format=1

log() { printf '[setup_env] %s\n' "$*" >&2; }

pyver=$("$python" -c 'import sys; print("%d%d" % sys.version_info[:2])')
if [ "$pyver" != 311 ]; then
  log "Python 3.11 is required, $python is $pyver (set PYTHON=...)"
  exit 1
fi
reqs=(torch build runtime tests)
key=$( (echo "$stack_format"; for r in "${reqs[@]}"; do
        cat "$root/requirements/$r.txt"; done) | sha256sum | cut -c1-12)
stack=$cache/stack/py$pyver-$key
site_rel=lib/python3.11/site-packages

build_mmcv_wheel() {
  # $1: python of an environment that already has torch and setuptools<81.
  local spy=$1 variant torch_version wheel_dir src tmp
  variant=$("$spy" - <<'EOF'
import shutil, torch
cuda = torch.version.cuda and torch.cuda.is_available() and shutil.which(
    'nvcc')
print('cu' + torch.version.cuda.replace('.', '') if cuda else 'cpu')
EOF
)
  torch_version=$("$spy" -c 'import torch; print(torch.__version__)')
  wheel_dir=$cache/wheels/mmcv-$mmcv_version-torch$torch_version-py$pyver-$variant
  if ls "$wheel_dir"/mmcv-*.whl >/dev/null 2>&1; then
    log "reusing cached mmcv wheel in $wheel_dir"
    echo "$wheel_dir"
    return
  fi
  log "building mmcv $mmcv_version with ops for torch $torch_version" \
      "($variant); this takes about 15 minutes on 2 cores"
  tmp=$(mktemp -d "$cache/mmcv-build.XXXXXX")
  "$spy" -m pip download -q --no-deps --no-binary :all: \
    --no-build-isolation -d "$tmp" "mmcv==$mmcv_version" >&2
  tar -xzf "$tmp/mmcv-$mmcv_version.tar.gz" -C "$tmp"
  src=$tmp/mmcv-$mmcv_version
  # torch >= 2.10 headers require C++20; mmcv 2.1.0 hard-codes C++17.
  sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "$spy" -m pip wheel -q \
    --no-deps --no-build-isolation -w "$tmp/wheel" "$src" >&2
  mkdir -p "$(dirname "$wheel_dir")"
  rm -rf "$wheel_dir"
  mv "$tmp/wheel" "$wheel_dir"
  rm -rf "$tmp"
  echo "$wheel_dir"
}

build_stack() {
  local wheel_dir
  log "installing the pinned stack into $stack"
  rm -rf "$stack"
  "$python" -m venv "$stack"
  local spy=$stack/bin/python
  "$spy" -m pip install -q -r "$root/requirements/torch.txt" \
    -r "$root/requirements/build.txt"
  wheel_dir=$(build_mmcv_wheel "$spy")
  "$spy" -m pip install -q --no-deps "$wheel_dir"/mmcv-*.whl
  "$spy" -m pip install -q -r "$root/requirements/runtime.txt" \
    -r "$root/requirements/tests.txt"
  "$spy" -c 'import mmcv.ops, mmseg.models, mmpretrain.models'
  touch "$stack/.complete"
}

mkdir -p "$cache/stack"
(
  # One builder at a time per machine; others wait and then reuse it.
  flock 9
  [ -f "$stack/.complete" ] || build_stack
) 9>"$cache/stack/.lock"

if [ ! -f "$venv/.bikd_stack" ] || [ "$(cat "$venv/.bikd_stack")" != "$stack" ]
then
  log "creating $venv on top of $stack"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # The stack's setuptools (<81, with pkg_resources) must win over the one
  # that venv bundles.
  "$venv/bin/python" -m pip uninstall -q -y setuptools
  echo "$stack/$site_rel" > "$venv/$site_rel/_bikd_stack.pth"
  "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation \
    -e "$root"
  echo "$stack" > "$venv/.bikd_stack"
fi
"$venv/bin/python" -c 'import bikd_mm, mmcv.ops, mmseg, mmpretrain'
log "ready: $venv"
