#!/bin/sh
#SBATCH --job-name=fails
echo "this job exits with status 3" >&2
exit 3
