#!/bin/sh
#SBATCH -J pi
#SBATCH -c 2
#SBATCH -t 2
# Estimate pi with awk on the two cores this job is pinned to.
awk -v seed="$SLURM_JOB_ID" 'BEGIN { srand(seed); n = 200000; for (i = 0; i < n; i++) {
  x = rand(); y = rand(); if (x*x + y*y < 1) hit++ } printf "pi ~ %.4f\n", 4 * hit / n }'
