"""Signal names as Slurm's tools spell them, and sbatch's ``--signal=[{R|B}:]SIG[@TIME]``."""

from __future__ import annotations

import signal as _signal

from scns.domain.record import Record
from scns.errors import InvalidInput

DEFAULT_WARNING_S = 60  # sbatch: "If <sig_time> is not specified, the default is 60 seconds"


def parse_signal_name(text: str) -> int:
    """``USR1``, ``SIGUSR1``, ``usr1`` or ``10`` -> 10."""
    name = text.strip().upper()
    if name.isdigit():
        number = int(name)
        if not 0 < number < _signal.NSIG:
            raise InvalidInput(f"invalid signal {text!r}")
        return number
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(_signal.Signals[name])
    except KeyError:
        raise InvalidInput(f"invalid signal {text!r}") from None


class SignalSpec(Record):
    """Send ``signum`` ``seconds`` before the time limit, to the batch shell only or to
    the rest of the job (Slurm's default: the steps, not the batch shell)."""

    __slots__ = ("signum", "seconds", "batch_only")
    signum: int
    seconds: int
    batch_only: bool


def parse_signal_spec(text: str) -> SignalSpec:
    """``USR2@90``, ``B:USR2@30``, ``R:10``, ``TERM`` (60 s) -> SignalSpec."""
    body = text.strip()
    batch_only = False
    if body[:2].upper() in ("B:", "R:"):
        batch_only = body[0].upper() == "B"
        body = body[2:]
    name, _, when = body.partition("@")
    seconds = DEFAULT_WARNING_S
    if when:
        if not when.isdigit() or int(when) > 65535:
            raise InvalidInput(f"invalid --signal {text!r}: the time must be 0-65535 seconds")
        seconds = int(when)
    try:
        signum = parse_signal_name(name)
    except InvalidInput:
        raise InvalidInput(f"invalid --signal {text!r}: unknown signal {name!r}") from None
    return SignalSpec(signum, seconds, batch_only)
