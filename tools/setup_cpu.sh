#!/usr/bin/env bash
# CPU set-up for lossmix_mm on a machine without a GPU (and for CI).
#
# Creates .venv, installs torch 2.13.0 (CPU wheel), builds mmcv 2.1.0 with its
# CPU ops (cached in ~/.cache/lossmix_mm/wheels so later runs reuse it), then
# mmengine, mmdet, test tools and lossmix_mm in editable mode.
#
# Idempotent: when nothing changed since the last successful run (same script,
# same requirements) and the imports work, it returns in a few seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LOSSMIX_VENV:-$ROOT/.venv}"
PY_BOOT="${PYTHON:-python3}"
WHEEL_CACHE="${LOSSMIX_WHEEL_CACHE:-$HOME/.cache/lossmix_mm/wheels}"
TORCH_VERSION="2.13.0"
MMCV_VERSION="2.1.0"
STAMP="$VENV/.lossmix_setup_stamp"

log() { echo "[setup_cpu] $*"; }

stamp_value() {
  cat "$ROOT/tools/setup_cpu.sh" "$ROOT/requirements.txt" "$ROOT/requirements/"*.txt "$ROOT/setup.py" 2>/dev/null \
    | sha256sum | cut -d' ' -f1
}

check_imports() {
  "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import torch, mmcv, mmengine, mmdet, pycocotools, pytest, mim, lossmix_mm
from mmcv.ops import RoIAlign, nms  # compiled ops present
assert torch.__version__.startswith("2.13.0")
PY
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_value)" ] && check_imports; then
  log "environment up to date: $VENV"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PY_BOOT" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
pip_q() {  # quiet pip; drop the machine-config notices about missing index dirs
  "${PIP[@]}" "$@" 2> >(grep -v "^WARNING: Location '" >&2)
}

log "installing torch==$TORCH_VERSION (CPU build) and build tools"
pip_q install -q "torch==$TORCH_VERSION" "setuptools<82" wheel ninja psutil

mkdir -p "$WHEEL_CACHE"
MMCV_WHEEL="$(ls "$WHEEL_CACHE"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$MMCV_WHEEL" ]; then
  log "building mmcv==$MMCV_VERSION with CPU ops (about 8 minutes on 2 cores)"
  BUILD_DIR="$(mktemp -d)"
  MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="$(nproc)" \
    pip_q wheel --no-deps --no-build-isolation -w "$BUILD_DIR" "mmcv==$MMCV_VERSION"
  # only cache a wheel that really carries the compiled extension
  if ! "$VENV/bin/python" -c "import sys, zipfile; names = zipfile.ZipFile(sys.argv[1]).namelist(); sys.exit(not any(n.startswith('mmcv/_ext') for n in names))" "$BUILD_DIR"/mmcv-*.whl; then
    log "ERROR: the mmcv wheel was built without mmcv._ext (compiled ops)"; exit 1
  fi
  mv "$BUILD_DIR"/mmcv-*.whl "$WHEEL_CACHE"/
  rm -rf "$BUILD_DIR"
  MMCV_WHEEL="$(ls "$WHEEL_CACHE"/mmcv-"$MMCV_VERSION"-*.whl | head -n1)"
fi
log "installing $(basename "$MMCV_WHEEL")"
pip_q install -q --no-deps "$MMCV_WHEEL"

log "installing mmengine, mmdet and the rest"
pip_q install -q -r "$ROOT/requirements/cpu.txt"
pip_q install -q --no-build-isolation -e "$ROOT"
log "installing openmim (for 'mim train mmdet <config>')"
pip_q install -q -r "$ROOT/requirements/mim.txt"
pip_q install -q --no-deps "openmim==0.3.9"

check_imports || { log "ERROR: imports failed after install"; "$VENV/bin/python" -c "import lossmix_mm, mmcv.ops"; exit 1; }
stamp_value > "$STAMP"
log "done: activate with 'source $VENV/bin/activate'"
