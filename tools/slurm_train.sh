#!/usr/bin/env bash
# Train on a SLURM cluster, one task per GPU (mmengine's slurm launcher):
#   [GPUS=8] [GPUS_PER_NODE=min(GPUS,8)] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#     bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py options]
# SRUN_ARGS is split on spaces into extra srun options (e.g. "--time=24:00:00 --qos=normal");
# PYTHON picks the interpreter (default: python). CONFIG and WORK_DIR are relative to the
# directory it is called from (srun keeps it).
set -euo pipefail

usage() {
  echo "usage: [GPUS=8] [GPUS_PER_NODE=min(GPUS,8)] [CPUS_PER_TASK=5] [SRUN_ARGS=...]" \
    "$0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]" >&2
  echo "error: $1" >&2
  exit 2
}

[ $# -ge 4 ] || usage "expected at least 4 arguments, got $#"
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
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

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec srun \
  --partition="$PARTITION" \
  --job-name="$JOB_NAME" \
  --gres=gpu:"$GPUS_PER_NODE" \
  --ntasks="$GPUS" \
  --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" \
  --kill-on-bad-exit=1 \
  "${EXTRA_SRUN_ARGS[@]}" \
  "$PYTHON" -u "$ROOT/tools/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher=slurm "${@:5}"
