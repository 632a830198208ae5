"""How a job's end becomes its final state: the outcome table, pure (issue 14 moved it to
the domain layer)."""

from __future__ import annotations

import signal

import pytest

from scns.domain.exit_status import ExitStatus, StartFailure
from scns.domain.outcome import Ending, outcome

KILLED = ExitStatus(None, signal.SIGKILL)


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (ExitStatus(0, None), None, ("COMPLETED", 0, None, None)),
        (ExitStatus(3, None), None, ("FAILED", 3, None, "exit code 3")),
        (KILLED, None, ("FAILED", None, 9, "killed by signal SIGKILL")),
        (ExitStatus(None, 99), None, ("FAILED", None, 99, "killed by signal 99")),
        (KILLED, "TIMEOUT", ("TIMEOUT", None, 9, "time limit reached")),
        (ExitStatus(0, None), "CANCELLED", ("CANCELLED", 0, None, "cancelled by user")),
        (KILLED, "OUT_OF_MEMORY", ("OUT_OF_MEMORY", None, 9, "memory limit exceeded (killed)")),
        (
            StartFailure("cannot open output file /x"),
            None,
            ("FAILED", None, None, "cannot open output file /x"),
        ),
        (StartFailure("no"), "CANCELLED", ("CANCELLED", None, None, "cancelled by user")),
        (None, None, ("FAILED", None, None, "exit status lost (the job's wrapper was killed)")),
    ],
)
def test_outcome_table(status, kind, expected) -> None:
    assert outcome(status, Ending(kind)) == expected


@pytest.mark.parametrize(("rc", "expected"), [(0, (0, None)), (1, (1, None)),
                                              (137, (None, 9)), (255, (255, None))])  # fmt: skip
def test_shell_status_reads_signals_as_128_plus_n(rc, expected) -> None:
    status = ExitStatus.from_shell_rc(rc)
    assert (status.exit_code, status.signal) == expected


def test_the_process_module_still_exports_the_records() -> None:
    from scns.exec import process

    assert process.ExitStatus is ExitStatus and process.StartFailure is StartFailure
