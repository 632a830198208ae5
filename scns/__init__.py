"""scns: a lightweight, reliable batch job scheduler (sbatch/squeue/scancel for one box or a few)."""

__version__ = "0.1.0"
