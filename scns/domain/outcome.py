"""How a job's end becomes its final state: one small table, in one place."""

from __future__ import annotations

import signal as signals
from dataclasses import dataclass

from scns.domain.exit_status import ExitStatus, StartFailure


@dataclass(frozen=True)
class Ending:
    """What the daemon did to the job, if anything (TIMEOUT, CANCELLED, OUT_OF_MEMORY)."""

    kind: str | None


def outcome(
    status: ExitStatus | StartFailure | None, ending: Ending
) -> tuple[str, int | None, int | None, str | None]:
    """(state, exit_code, signal, reason) for a job that ended with ``status``."""
    failure = status if isinstance(status, StartFailure) else None
    ended = status if isinstance(status, ExitStatus) else None
    code = ended.exit_code if ended else None
    sig = ended.signal if ended else None
    if ending.kind == "TIMEOUT":
        return "TIMEOUT", code, sig, "time limit reached"
    if ending.kind == "CANCELLED":
        return "CANCELLED", code, sig, "cancelled by user"
    if ending.kind == "OUT_OF_MEMORY":
        return "OUT_OF_MEMORY", code, sig, "memory limit exceeded (killed)"
    if failure is not None:  # the job never ran
        return "FAILED", None, None, str(failure)
    if ended is None:
        return "FAILED", None, None, "exit status lost (the job's wrapper was killed)"
    if ended.exit_code == 0:
        return "COMPLETED", 0, None, None
    if sig is not None:
        return "FAILED", None, sig, f"killed by signal {_name(sig)}"
    return "FAILED", code, None, f"exit code {code}"


def _name(sig: int) -> str:
    try:
        return signals.Signals(sig).name
    except ValueError:
        return str(sig)
