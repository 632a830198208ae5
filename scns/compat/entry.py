"""The one program behind every Slurm command name: dispatch on argv[0]."""

from __future__ import annotations

import os
import sys

COMMANDS = ("sbatch", "squeue", "sacct", "scancel", "scontrol", "sinfo", "srun")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    name = os.path.basename(argv[0])
    if name not in COMMANDS:
        sys.stderr.write(
            f"scns compat: called as {name!r}; expected one of {', '.join(COMMANDS)}\n"
        )
        return 2
    import importlib

    module = importlib.import_module(f"scns.compat.{name}")
    try:
        return int(module.main(argv[1:]) or 0)
    except KeyboardInterrupt:
        sys.stderr.write(f"{name}: interrupted\n")
        return 130
    except BrokenPipeError:  # `squeue | head`
        return 0
