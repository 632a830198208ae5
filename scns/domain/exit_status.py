"""How a job's process ended, as its supervisor recorded it: pure values, no process code."""

from __future__ import annotations

from dataclasses import dataclass


class StartFailure(str):
    """Why the wrapper could not start the job (an output file it could not open)."""


@dataclass(frozen=True)
class ExitStatus:
    """How a job ended: an exit code, or the signal that killed it."""

    exit_code: int | None
    signal: int | None

    @classmethod
    def from_shell_rc(cls, rc: int) -> ExitStatus:
        """Shells report death by signal N as 128+N; read it back that way."""
        if 128 < rc < 128 + 65:
            return cls(None, rc - 128)
        return cls(rc, None)
