"""Filling an embedded database with many jobs straight through SQL (seconds, not hours).

One ``INSERT ... SELECT`` over a recursive counter per batch: SQLite generates the rows
itself, so a million jobs cost the index maintenance and little else. The rows look like
what ``scns submit`` and the daemon write (same columns, realistic paths and times).
"""

from __future__ import annotations

import getpass
import os
import sqlite3
import time

_COLUMNS = (
    "id, name, user_name, uid, gid, state, reason, script, workdir, stdout_path, stderr_path,"
    " ntasks, cpus_per_task, cpus, mem_mb, time_limit_s, priority, nice, held, submit_time,"
    " start_time, end_time, exit_code, node, cpu_ids"
)


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # seeding only; the benchmark runs at defaults
    return conn


def next_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(id) FROM jobs").fetchone()
    return (row[0] or 0) + 1


def seed_pending(path: str, count: int, *, cpus: int = 1, held: bool = True) -> tuple[int, int]:
    """``count`` PENDING jobs (held, or needing ``cpus`` CPUs); returns (first id, last id)."""
    return _seed(path, count, state="PENDING", cpus=cpus, held=held)


def seed_finished(path: str, count: int) -> tuple[int, int]:
    """``count`` finished jobs: 90 % COMPLETED, the rest FAILED or CANCELLED."""
    return _seed(path, count, state=None, cpus=1, held=False)


def _seed(path: str, count: int, *, state: str | None, cpus: int, held: bool) -> tuple[int, int]:
    conn = _connect(path)
    user, uid, gid = getpass.getuser(), os.getuid(), os.getgid()
    workdir = os.path.dirname(path)
    now = time.time()
    first = next_id(conn)
    if state is None:  # history: spread over the last 30 days, one CPU each
        state_sql = (
            "CASE WHEN n % 10 = 9 THEN 'FAILED' WHEN n % 10 = 8 THEN 'CANCELLED'"
            " ELSE 'COMPLETED' END"
        )
        reason_sql = "CASE WHEN n % 10 = 9 THEN 'exit code 1' ELSE NULL END"
        times_sql = (
            ":now - 2592000 + n * (2592000.0 / :count), :now - 2592000 + n *"
            " (2592000.0 / :count) + 1, :now - 2592000 + n * (2592000.0 / :count) + 30,"
            " CASE WHEN n % 10 = 9 THEN 1 WHEN n % 10 = 8 THEN NULL ELSE 0 END,"
            " 'bench', '0'"
        )
    else:
        state_sql = f"'{state}'"
        reason_sql = "'JobHeldUser'" if held else "'Resources'"
        times_sql = ":now - 3600 + n * (3600.0 / :count), NULL, NULL, NULL, NULL, NULL"
    sql = (
        "WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n + 1 < :count)"
        f" INSERT INTO jobs ({_COLUMNS}) SELECT :first + n, 'bench-' || (n % 97), :user, :uid,"
        f" :gid, {state_sql}, {reason_sql}, '#!/bin/sh' || char(10) || 'true' || char(10),"
        " :workdir, :workdir || '/slurm-' || (:first + n) || '.out',"
        " :workdir || '/slurm-' || (:first + n) || '.out', 1, :cpus, :cpus, 0, 3600,"
        f" 0, 0, :held, {times_sql} FROM c"
    )
    params = {
        "count": count,
        "first": first,
        "user": user,
        "uid": uid,
        "gid": gid,
        "workdir": workdir,
        "cpus": cpus,
        "held": int(held),
        "now": now,
    }
    conn.execute("BEGIN")
    conn.execute(sql, params)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return first, first + count - 1


def set_pending_shape(path: str, first: int, last: int, *, held: bool, cpus: int) -> None:
    """Turn seeded pending jobs held or runnable-but-too-wide (for the scheduling pass)."""
    conn = _connect(path)
    conn.execute(
        "UPDATE jobs SET held = :held, cpus = :cpus, cpus_per_task = :cpus,"
        " reason = :reason, expected_start_time = NULL WHERE id BETWEEN :a AND :b",
        {
            "held": int(held),
            "cpus": cpus,
            "a": first,
            "b": last,
            "reason": "JobHeldUser" if held else None,
        },
    )
    conn.close()
