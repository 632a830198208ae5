"""Shared pieces of the statement modules: the job column list and row conversion.

``scns submit`` imports this package, so nothing here may pull in ``json`` (which brings
``re`` and ``enum``, ~4 ms) or the job-state enum at import time.
"""

from __future__ import annotations

from scns.domain.job import JOB_COLUMNS, Job

try:  # the C string quoter json.dumps itself uses
    from _json import encode_basestring_ascii as _quote
except ImportError:  # pragma: no cover - an interpreter without the accelerator
    from json.encoder import py_encode_basestring_ascii as _quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

COLS = ", ".join(JOB_COLUMNS)
LIVE = "('PENDING', 'CONFIGURING', 'RUNNING')"


def job_from_row(row: Sequence[object]) -> Job:
    job = Job(*row)
    job.state = _job_state(job.state)
    return job


def _job_state(value):
    """JobState(value), importing the enum on first use (submit never needs it)."""
    global _job_state
    from scns.domain.states import JobState

    _job_state = JobState
    return JobState(value)


def dumps(value: object) -> str:
    """Compact JSON, byte for byte what ``json.dumps(value, separators=(",", ":"))`` gives.

    argv lists and environment maps (strings only) are encoded here without importing json;
    anything else goes to json.
    """
    if isinstance(value, list) and all(type(v) is str for v in value):
        return "[" + ",".join(map(_quote, value)) + "]"
    if isinstance(value, dict) and all(type(k) is str and type(v) is str for k, v in value.items()):
        return "{" + ",".join(_quote(k) + ":" + _quote(v) for k, v in value.items()) + "}"
    import json

    return json.dumps(value, separators=(",", ":"))
