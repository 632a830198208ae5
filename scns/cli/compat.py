"""``scns compat``: Slurm's command names for software that drives Slurm."""

from __future__ import annotations

import sys

import typer

compat_app = typer.Typer(
    help="Slurm's commands (sbatch, squeue, sacct, ...) backed by scns.", no_args_is_help=True
)


@compat_app.command("path")
def path() -> None:
    """Print the directory holding sbatch, squeue, sacct, scancel, scontrol, sinfo and srun.

    Example: export PATH="$(scns compat path):$PATH"
    """
    from scns.compat.install import bin_dir

    try:
        directory = bin_dir()
    except OSError as exc:
        sys.stderr.write(f"scns compat path: error: cannot create the directory: {exc}\n")
        raise typer.Exit(1) from None
    sys.stdout.write(directory + "\n")
