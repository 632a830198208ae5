"""Statements behind ``scns stats`` and the daemon's metrics: counts and sums only.

Each answers in one statement, with the same text on SQLite and PostgreSQL (CASE instead of
MIN/MAX of two values or LEAST/GREATEST; buckets as sums of CASE, not a float division
each dialect rounds its own way).
"""

from __future__ import annotations

from scns.db.engine import Tx
from scns.db.statements.common import ALLOCATED, LIVE

HOUR_S = 3600.0


def jobs_by_state(tx: Tx) -> dict[str, int]:
    """How many jobs are in each state (ix_jobs_state_id answers it)."""
    return {state: count for state, count in
            tx.rows("SELECT state, COUNT(*) FROM jobs GROUP BY state")}  # fmt: skip


def pending_by_reason(tx: Tx) -> dict[str, int]:
    """Pending jobs by their reason; a job no pass has judged yet counts as ``None``."""
    rows = tx.rows("SELECT reason, COUNT(*) FROM jobs WHERE state = 'PENDING' GROUP BY reason")
    out: dict[str, int] = {}
    for reason, count in rows:
        key = reason or "None"
        out[key] = out.get(key, 0) + count
    return out


def live_jobs_by_reason(tx: Tx) -> list[tuple[str, str | None, int]]:
    """(state, reason, count) of the pending, configuring and running jobs; the reason only
    for pending ones (a running job's row may keep the one it waited with)."""
    return [(state, reason, int(count)) for state, reason, count in tx.rows(
        "SELECT state, CASE WHEN state = 'PENDING' THEN reason END AS why, COUNT(*) FROM jobs"
        f" WHERE state IN {LIVE} GROUP BY state, why")]  # fmt: skip


def waits_since(tx: Tx, since: float) -> tuple[int, float | None, float | None]:
    """(jobs started since ``since``, their mean wait, their 95th-percentile wait), a wait
    being start time minus submit time."""
    count, mean = tx.one(
        "SELECT COUNT(*), AVG(start_time - submit_time) FROM jobs WHERE start_time >= :since",
        {"since": since},
    ) or (0, None)
    if not count:
        return 0, None, None
    rank = max(0, -(-count * 95 // 100) - 1)  # nearest rank: ceil(0.95 n), counted from 0
    row = tx.one(
        "SELECT start_time - submit_time AS wait FROM jobs WHERE start_time >= :since"
        " ORDER BY wait LIMIT 1 OFFSET :rank",
        {"since": since, "rank": rank},
    )
    return int(count), float(mean), float(row[0]) if row else None


def cpu_seconds_between(tx: Tx, since: float, now: float) -> float:
    """CPU-seconds jobs held between ``since`` and ``now``: each job's CPUs times the part
    of its run (start to end, or to now while it runs) inside the window."""
    row = tx.one(
        "SELECT SUM(cpus * ("
        " (CASE WHEN end_time IS NULL OR end_time > :now THEN :now ELSE end_time END)"
        " - (CASE WHEN start_time < :since THEN :since ELSE start_time END)))"
        " FROM jobs WHERE start_time IS NOT NULL AND start_time < :now"
        " AND (end_time IS NULL OR end_time > :since)"
        f" AND (end_time IS NOT NULL OR state IN {ALLOCATED})",
        {"since": since, "now": now},
    )
    return float(row[0] or 0.0) if row else 0.0


def hourly_starts_and_ends(tx: Tx, now: float, hours: int = 24) -> list[tuple[float, int, int]]:
    """(hour start, jobs started, jobs ended) for each of the last ``hours`` clock hours
    (UTC-aligned), oldest first; the last one is the current hour, up to now."""
    current = now - now % HOUR_S
    edges = [current - (hours - 1 - i) * HOUR_S for i in range(hours)] + [now + 1.0]
    params: dict[str, object] = {f"e{i}": edge for i, edge in enumerate(edges)}
    sums = []
    for column in ("start_time", "end_time"):
        sums += [f"SUM(CASE WHEN {column} >= :e{i} AND {column} < :e{i + 1} THEN 1 ELSE 0 END)"
                 for i in range(hours)]  # fmt: skip
    row = tx.one(
        f"SELECT {', '.join(sums)} FROM jobs WHERE start_time >= :e0 OR end_time >= :e0",
        params,
    )
    values = [int(v or 0) for v in row] if row else [0] * (2 * hours)
    return [(edges[i], values[i], values[hours + i]) for i in range(hours)]
