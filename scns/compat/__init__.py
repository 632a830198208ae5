"""Slurm's own commands (sbatch, squeue, sacct, scancel, scontrol, sinfo, srun), backed by
scns, for the software that drives Slurm (submitit, dask-jobqueue, Snakemake, Parsl, ...).

One program behind them all: ``scns compat path`` prints a directory of links named after
the Slurm commands; the program looks at the name it was called by. They keep no state of
their own: they call the same service layer (or system socket) as ``scns`` itself.
"""
