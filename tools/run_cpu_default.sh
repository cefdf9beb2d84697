#!/usr/bin/env bash
# The CPU default end to end: train a toy config, then evaluate its last
# checkpoint on the held-out toy images with CocoMetric.
#   bash tools/run_cpu_default.sh CONFIG WORK_DIR [--cfg-options k=v ...]
# (options after WORK_DIR go to both tools/train.py and tools/test.py)
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-configs/toy/faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py}
WORK_DIR=${2:-work_dirs/cpu_default}
PY=${PYTHON:-.venv/bin/python}

start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "${@:3}"
trained=$(date +%s)
CKPT=$(cat "$WORK_DIR/last_checkpoint")
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" "${@:3}"
done_=$(date +%s)

METRICS=$(ls -t "$WORK_DIR"/test/*/*.json | head -n1)
LOG=$(ls -t "$WORK_DIR"/*/*.log | head -n1)
echo
echo "=== CPU default finished: train $((trained - start)) s, test $((done_ - trained)) s"
echo "config:     $CONFIG"
echo "log:        $LOG"
echo "checkpoint: $CKPT"
echo "metrics:    $METRICS"
cat "$METRICS"; echo
