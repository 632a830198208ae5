"""PostgreSQL + Redis with two daemons: submit latency, submit → start and throughput.

Runs only when ``SCNS_BENCH_DATABASE_URL`` and ``SCNS_BENCH_REDIS_URL`` are set. The database
must be a scratch one: every repetition empties the scns tables (TRUNCATE) before it starts.
The two daemons share the machine's CPUs: one pinned to each CPU, ``--cpus 1`` each, so the
total slots equal the embedded runs' and the figures compare.
"""

from __future__ import annotations

import os

from harness import (
    CPUS,
    Home,
    Reader,
    median,
    normalise_pg_url,
    percentile,
    time_python_pass,
    wait_until,
)
from report import Figure, ms
from scenarios import check_exactly_once, check_no_oversubscription, measure_submit_to_start

_TABLES = "jobs, events, allocations, core_claims, nodes, leases"


def configured() -> tuple[str, str] | None:
    url, redis = os.environ.get("SCNS_BENCH_DATABASE_URL"), os.environ.get("SCNS_BENCH_REDIS_URL")
    return (url, redis) if url and redis else None


def fresh_cluster_home(url: str, redis: str) -> Home:
    home = Home.fresh("pg", {"SCNS_DATABASE_URL": url, "SCNS_REDIS_URL": redis})
    home.scns("db", "upgrade")
    from sqlalchemy import create_engine, text

    engine = create_engine(normalise_pg_url(url))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return home


def two_daemons(home: Home) -> list:
    cores = sorted(os.sched_getaffinity(0))
    return [home.daemon(f"pg{i}", 1, {cores[i % len(cores)]}) for i in range(2)]


def cluster(p: dict, base: dict) -> list[Figure]:
    found = configured()
    if not found:
        return []
    url, redis = found
    figs: list[Figure] = []
    # submit latency and submit -> start on one set-up
    home = fresh_cluster_home(url, redis)
    reader = Reader(url=url)
    try:
        meds, pass_all = [], []
        for _ in range(p["reps"]):
            samples = []
            for _ in range(p["submit_n"]):
                pass_all.append(time_python_pass())
                samples.append(home.timed("submit", "--parsable", "--wrap", "true")[0])
            meds.append(ms(median(samples)))
        pass_ms = ms(median(pass_all))
        figs.append(
            Figure(
                "pg_submit",
                "PostgreSQL+Redis: submit latency",
                "ms",
                meds,
                "≤ 3.5 × `python -c pass`",
                3.5 * pass_ms,
                note=f"(interleaved `python -c pass` {pass_ms:.1f} ms)",
            )
        )
        two_daemons(home)
        wait_until(
            lambda: reader.count_finished() >= p["reps"] * p["submit_n"],
            120,
            0.05,
            "the submitted jobs to finish",
        )
        s2s, s2s90 = [], []
        for rep in range(p["reps"]):
            lat = measure_submit_to_start(home, reader, p["s2s_n"], f"pg{rep}")
            s2s.append(ms(median(lat)))
            s2s90.append(ms(percentile(lat, 90)))
        figs.append(
            Figure("pg_s2s", "PostgreSQL+Redis: submit → start, median", "ms", s2s, "≤ 100 ms", 100)
        )
        figs.append(
            Figure("pg_s2s_p90", "PostgreSQL+Redis: submit → start, p90", "ms", s2s90, "(reported)")
        )
    finally:
        reader.close()
        home.close()
    figs += cluster_throughput(p, url, redis)
    return figs


def cluster_throughput(p: dict, url: str, redis: str) -> list[Figure]:
    n = p["throughput_n"]
    rates, once, oversub = [], [], []
    for _ in range(p["reps"]):
        home = fresh_cluster_home(url, redis)
        reader = Reader(url=url)
        try:
            home.scns("submit", "-a", f"0-{n - 1}", "--wrap", "true")
            daemons = two_daemons(home)
            wait_until(
                lambda r=reader: r.count_finished() >= n, 60 + n / 10, 0.05, f"{n} jobs to finish"
            )
            last_end = reader.scalar("SELECT MAX(end_time) FROM jobs")
            rates.append(n / (last_end - daemons[0].spawned_at))
            once.append(float(check_exactly_once(reader, n)))
            oversub.append(float(check_no_oversubscription(reader, CPUS)))
        finally:
            reader.close()
            home.close()
    return [
        Figure(
            "pg_throughput",
            f"PostgreSQL+Redis: throughput, {n} jobs, 2 daemons",
            "jobs/s",
            rates,
            "≥ 150 jobs/s",
            150,
            higher_is_better=True,
        ),
        Figure(
            "pg_throughput_500",
            f"PostgreSQL+Redis: throughput, {n} jobs, 2 daemons (issue 14's bar)",
            "jobs/s",
            rates,
            "≥ 500 jobs/s",
            500,
            higher_is_better=True,
        ),
        Figure(
            "pg_exactly_once",
            "PostgreSQL+Redis check: every job ran exactly once",
            "check",
            once,
            "all runs pass",
            1.0,
            higher_is_better=True,
        ),
        Figure(
            "pg_no_oversub",
            "PostgreSQL+Redis check: no core held twice",
            "check",
            oversub,
            "all runs pass",
            1.0,
            higher_is_better=True,
        ),
    ]
