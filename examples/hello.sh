#!/bin/bash
#SBATCH --job-name=hello
#SBATCH --cpus-per-task=1
#SBATCH --time=1:00
echo "hello from job $SLURM_JOB_ID on $SLURM_JOB_NODELIST (cpus: $SCNS_CPU_IDS)"
