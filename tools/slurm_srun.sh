#!/usr/bin/env bash
# What tools/slurm_train.sh and tools/slurm_test.sh share: check the arguments and the
# environment, then run tools/train.py or tools/test.py under srun, one task per GPU.
#   bash tools/slurm_srun.sh {train|test} PARTITION JOB_NAME CONFIG {WORK_DIR|CHECKPOINT} [options]
set -euo pipefail

MODE=$1
shift
case "$MODE" in
  train) FOURTH=WORK_DIR ;;
  test) FOURTH=CHECKPOINT ;;
  *) echo "slurm_srun.sh: mode must be 'train' or 'test', got '$MODE'" >&2; exit 2 ;;
esac

usage() {
  echo "usage: [GPUS=8] [GPUS_PER_NODE=min(GPUS,8)] [CPUS_PER_TASK=5] [SRUN_ARGS=...]" \
    "tools/slurm_$MODE.sh PARTITION JOB_NAME CONFIG $FOURTH [$MODE.py options]" >&2
  echo "error: $1" >&2
  exit 2
}

[ $# -ge 4 ] || usage "expected at least 4 arguments, got $#"
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
GPUS=${GPUS:-8}
[[ $GPUS =~ ^[1-9][0-9]*$ ]] || usage "GPUS must be a positive integer, got '$GPUS'"
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
for name in GPUS_PER_NODE CPUS_PER_TASK; do
  [[ ${!name} =~ ^[1-9][0-9]*$ ]] || usage "$name must be a positive integer, got '${!name}'"
done
read -r -a EXTRA_SRUN_ARGS <<< "${SRUN_ARGS:-}"
PYTHON=${PYTHON:-python}
command -v srun > /dev/null || usage "srun not found on PATH (run this where SLURM is installed)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$MODE" = train ]; then
  TOOL_ARGS=("$ROOT/tools/train.py" "$CONFIG" --work-dir="$4")
else
  TOOL_ARGS=("$ROOT/tools/test.py" "$CONFIG" "$4")
fi

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec srun \
  --partition="$PARTITION" \
  --job-name="$JOB_NAME" \
  --gres=gpu:"$GPUS_PER_NODE" \
  --ntasks="$GPUS" \
  --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" \
  --kill-on-bad-exit=1 \
  "${EXTRA_SRUN_ARGS[@]}" \
  "$PYTHON" -u "${TOOL_ARGS[@]}" --launcher=slurm "${@:5}"
