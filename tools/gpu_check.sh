#!/usr/bin/env bash
# One prepared check of lossmix_mm on a machine with one GPU (sized for under 5 minutes; not yet timed on a GPU):
#   1. the heads' and mixers' tests with every tensor on the GPU
#      (LOSSMIX_TEST_DEVICE=cuda, see tests/conftest.py),
#   2. 20 iterations of the toy LossMix config through tools/dist_train.sh CONFIG 1
#      (NCCL), without and with --amp,
#   3. tools/benchmark.py --device cuda (iteration-time ratios over no-mix),
# then one summary; the exit status is non-zero when a step failed.
#
#   bash tools/gpu_check.sh [--out DIR]          on the GPU machine
#   bash tools/gpu_check.sh --dry [--out DIR]    on a CPU: the same steps, small, on the CPU
#                                                (gloo; --amp is skipped: mmengine's AMP needs a GPU)
#
# The dry mode is run by the test suite (tests/test_tools/test_gpu_check.py) so that this
# script cannot rot on machines without a GPU. PYTHON picks the interpreter (default: the
# project's .venv if present, else python).
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry) DRY=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument '$1' (valid: --dry, --out DIR)" >&2; exit 2 ;;
  esac
done
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
export PYTHON
OUT=${OUT:-work_dirs/gpu_check}
mkdir -p "$OUT"
CONFIG=configs/toy/faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py
# The heads' and mixers' tests.
TESTS="tests/test_models/test_dense_heads tests/test_models/test_roi_heads \
tests/test_models/test_data_preprocessors tests/test_models/test_utils \
tests/test_mixing"

if [ "$DRY" = 1 ]; then
  DEVICE=cpu; ITERS=2; BENCH_ARGS="--iters 1 --warmup 0 --variants inbatch --no-memory --pipeline-samples 2"
  # one small module runs, the rest is collected (they run on the CPU in the suite anyway)
  TEST_RUN="tests/test_models/test_utils/test_loss_weights.py"
else
  DEVICE=cuda; ITERS=20; BENCH_ARGS="--iters 20 --warmup 5"
  TEST_RUN="$TESTS"
fi

SUMMARY=()
FAILED=0
step() {  # step NAME LOGFILE COMMAND...: run, time, record
  local name=$1 log=$2; shift 2
  local t0=$SECONDS
  echo "== $name: $*"
  if "$@" >"$log" 2>&1; then
    SUMMARY+=("PASS  $name ($((SECONDS - t0)) s)")
  else
    SUMMARY+=("FAIL  $name ($((SECONDS - t0)) s, log: $log)")
    FAILED=1
    tail -n 20 "$log"
  fi
}
skip() { SUMMARY+=("SKIP  $1 ($2)"); }

if [ "$DRY" = 0 ]; then
  if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check.sh: torch sees no GPU here; on a CPU run 'bash tools/gpu_check.sh --dry'" >&2
    exit 2
  fi
fi
step "environment" "$OUT/env.log" "$PYTHON" -c "
import torch, mmcv, mmdet, mmengine, lossmix_mm
from mmcv.ops import nms  # the compiled ops
print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-')
print('mmcv', mmcv.__version__, 'mmdet', mmdet.__version__, 'mmengine', mmengine.__version__,
      'lossmix_mm', lossmix_mm.__version__)"
[ -f data/toy/annotations/train.json ] || \
  step "toy data" "$OUT/data.log" "$PYTHON" tools/generate_toy_data.py --out data/toy
if [ "$DRY" = 1 ]; then
  # shellcheck disable=SC2086
  step "collect heads' and mixers' tests" "$OUT/collect.log" \
    "$PYTHON" -m pytest $TESTS -q --collect-only
fi
# shellcheck disable=SC2086
step "heads' and mixers' tests on $DEVICE" "$OUT/tests.log" \
  env LOSSMIX_TEST_DEVICE=$DEVICE "$PYTHON" -m pytest $TEST_RUN -q -x -p no:cacheprovider
TRAIN_OPTS=(--cfg-options "train_cfg.max_iters=$ITERS" train_cfg.val_interval=100000
            default_hooks.checkpoint.interval=100000 default_hooks.logger.interval=1
            "visualizer.name=gpu_check_$$")
PORT=${PORT:-29531} step "$ITERS iterations, dist_train.sh 1 process" "$OUT/train.log" \
  bash tools/dist_train.sh "$CONFIG" 1 --work-dir "$OUT/train" "${TRAIN_OPTS[@]}"
if [ "$DRY" = 1 ]; then
  skip "$ITERS iterations with --amp" "mmengine's AmpOptimWrapper needs a GPU"
else
  PORT=${PORT:-29532} step "$ITERS iterations, dist_train.sh 1 process, --amp" \
    "$OUT/train_amp.log" bash tools/dist_train.sh "$CONFIG" 1 --amp \
    --work-dir "$OUT/train_amp" "${TRAIN_OPTS[@]}"
fi
# shellcheck disable=SC2086
step "benchmark on $DEVICE" "$OUT/benchmark.log" \
  "$PYTHON" tools/benchmark.py --device "$DEVICE" $BENCH_ARGS --out "$OUT/benchmark.md"

echo
echo "gpu_check summary ($([ "$DRY" = 1 ] && echo 'dry run on the CPU' || echo "device $DEVICE")):"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
[ -f "$OUT/benchmark.md" ] && { echo; grep -E '^\|' "$OUT/benchmark.md" | head -n 12; }
exit $FAILED
