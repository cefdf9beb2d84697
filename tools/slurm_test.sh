#!/usr/bin/env bash
# Evaluate a checkpoint on a SLURM cluster, one task per GPU (mmengine's slurm launcher):
#   [GPUS=8] [GPUS_PER_NODE=min(GPUS,8)] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#     bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options]
# SRUN_ARGS is split on spaces into extra srun options (e.g. "--time=1:00:00");
# PYTHON picks the interpreter (default: python). CONFIG and CHECKPOINT are relative to the
# directory it is called from (srun keeps it).
exec bash "$(dirname "${BASH_SOURCE[0]}")/slurm_srun.sh" test "$@"
