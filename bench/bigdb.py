"""Big-database scenarios: 100,000 pending jobs, and 1,000,000 finished ones.

Each figure is sampled interleaved with its reference (the same command on a small database,
or ``python -c pass``), so the ratio targets compare like with like under a noisy machine.
"""

from __future__ import annotations

import json
import time

import seed
from harness import CPUS, Home, Reader, median, time_python_pass
from report import Figure, ms
from scenarios import interleaved, measure_submit_to_start, require, wait_idle, warm


def reference_home() -> tuple[Home, int]:
    """A nearly empty database: one finished job to query."""
    home = warm(Home.fresh("ref"))
    first, _ = seed.seed_finished(home.db_path, 1)
    return home, first


def big_queue(p: dict, base: dict) -> list[Figure]:
    n, reps, k = p["bigq_n"], p["reps"], p["bigq_samples"]
    ref, _ = reference_home()
    home = warm(Home.fresh("bigq"))
    reader = Reader(home.db_path)
    figs: list[Figure] = []
    try:
        began = time.perf_counter()
        first, last = seed.seed_pending(home.db_path, n, held=True)
        seeded_s = time.perf_counter() - began
        mid = (first + last) // 2
        submit = ["submit", "--parsable", "--wrap", "true"]
        big, ref_all, _ = interleaved(
            reps, k, lambda: ref.timed(*submit)[0], lambda: home.timed(*submit)[0]
        )
        ref_ms = median(ref_all)
        figs.append(
            Figure(
                "bigq_submit",
                f"big queue ({n:,} held): submit latency",
                "ms",
                big,
                "≤ 1.2 × empty-database submit",
                1.2 * ref_ms,
                note=f"(interleaved empty-db median {ref_ms:.1f} ms)",
            )
        )
        lines = len(home.timed("queue")[1].splitlines())
        require(lines > n, f"scns queue printed {lines} lines for {n} pending jobs")
        queue = [
            ms(median([home.timed("queue")[0] for _ in range(max(2, k // 2))])) for _ in range(reps)
        ]
        figs.append(
            Figure(
                "bigq_queue",
                f"big queue: `scns queue` (default view, all {lines - 1:,} rows)",
                "ms",
                queue,
                "≤ 500 ms",
                500,
            )
        )
        jobs = len(json.loads(home.timed("queue", "--json")[1]))
        require(jobs >= n, f"scns queue --json listed {jobs} jobs for {n} pending")
        as_json = [
            ms(median([home.timed("queue", "--json")[0] for _ in range(max(2, k // 2))]))
            for _ in range(reps)
        ]
        figs.append(
            Figure(
                "bigq_queue_json",
                f"big queue: `scns queue --json` (all {jobs:,} jobs, streamed)",
                "ms",
                as_json,
                "≤ 1 s",
                1000,
            )
        )
        query, pass_all, _ = interleaved(
            reps, k, time_python_pass, lambda: home.timed("query", str(mid))[0]
        )
        pass_ms = median(pass_all)
        figs.append(
            Figure(
                "bigq_query",
                "big queue: `scns query ID`",
                "ms",
                query,
                "≤ 1.5 × `python -c pass` + 50 ms",
                1.5 * pass_ms + 50,
                note=f"(interleaved `python -c pass` {pass_ms:.1f} ms)",
            )
        )
        daemon = home.daemon("b1", CPUS)
        wait_idle(reader)  # the jobs submitted above run first
        s2s = [ms(median(measure_submit_to_start(home, reader, k, f"bq{r}"))) for r in range(reps)]
        figs.append(
            Figure(
                "bigq_s2s",
                "big queue: submit → start of a runnable job",
                "ms",
                s2s,
                "≤ 200 ms",
                200,
            )
        )
        logged = daemon.pass_ms()
        daemon.stop()
        figs += scheduling_passes(home, first, last, reps, k, n)
        figs.append(
            Figure(
                "bigq_pass_logged",
                "big queue: `pass_ms` logged by the daemon (passes that started a job)",
                "ms",
                logged or [],
                "(reported)",
            )
        )
    finally:
        reader.close()
        home.close()
        ref.close()
    base["bigq_seed_s"] = round(seeded_s, 1)
    return figs


def scheduling_passes(home: Home, first: int, last: int, reps: int, k: int, n: int) -> list[Figure]:
    """``run_pass`` in-process, as the daemon calls it: queue held, then runnable but too wide."""
    from scns.daemon.scheduling import PassConfig, run_pass
    from scns.db.engine import SqliteDatabase

    db = SqliteDatabase("sqlite:///" + home.db_path)
    config = PassConfig()  # the daemon's defaults: backfill, 1000 jobs examined
    figs = []
    for label, held in (("held", True), (f"runnable but {CPUS + 1} CPUs wide", False)):
        seed.set_pending_shape(home.db_path, first, last, held=held, cpus=CPUS + 1)
        runs = []
        for _ in range(reps):
            runs.append(ms(median([run_pass(db, config).duration_s for _ in range(k)])))
        figs.append(
            Figure(
                f"bigq_pass_{'held' if held else 'wide'}",
                f"big queue: one scheduling pass, {n:,} pending {label}",
                "ms",
                runs,
                "≤ 100 ms",
                100,
            )
        )
    db.close()
    return figs


def history(p: dict, base: dict) -> list[Figure]:
    n, reps, k = p["history_n"], p["reps"], p["history_samples"]
    ref, ref_id = reference_home()
    home = warm(Home.fresh("hist"))
    try:
        began = time.perf_counter()
        first, last = seed.seed_finished(home.db_path, n)
        base["history_seed_s"] = round(time.perf_counter() - began, 1)
        page = ["queue", "--all", "--state", "COMPLETED", "--limit", "50"]
        q_big, q_ref, _ = interleaved(
            reps,
            k,
            lambda: ref.timed("query", str(ref_id))[0],
            lambda: home.timed("query", str((first + last) // 2))[0],
        )
        l_big, l_ref, _ = interleaved(
            reps, k, lambda: ref.timed(*page)[0], lambda: home.timed(*page)[0]
        )
        # a one-day window, found through the end-time index; --limit keeps the output as
        # small as the empty database's, so the figures compare finding, not printing
        window = ["history", "-S", "now-1day", "--limit", "50"]
        w_big, w_ref, _ = interleaved(
            reps, k, lambda: ref.timed(*window)[0], lambda: home.timed(*window)[0]
        )
        submit = ["submit", "--parsable", "-H", "--wrap", "true"]
        s_big, s_ref, _ = interleaved(
            reps, k, lambda: ref.timed(*submit)[0], lambda: home.timed(*submit)[0]
        )
        day = len(home.timed("history", "-S", "now-1day", "-o", "JobID", "--noheader")[1].split())
        whole_day = [ms(home.timed("history", "-S", "now-1day")[0]) for _ in range(reps)]
    finally:
        home.close()
        ref.close()
    qr, lr, wr, sr = median(q_ref), median(l_ref), median(w_ref), median(s_ref)
    return [
        Figure(
            "hist_query",
            f"history ({n:,} finished): `scns query ID`",
            "ms",
            q_big,
            "≤ 1.2 × empty-database figure",
            1.2 * qr,
            note=f"(interleaved empty-db {qr:.1f} ms)",
        ),
        Figure(
            "hist_submit",
            f"history ({n:,} finished): `scns submit`",
            "ms",
            s_big,
            "≤ 1.2 × empty-database figure",
            1.2 * sr,
            note=f"(interleaved empty-db {sr:.1f} ms)",
        ),
        Figure(
            "hist_queue",
            "history: `scns queue --all --state COMPLETED --limit 50`",
            "ms",
            l_big,
            "≤ 2 × empty-database figure",
            2 * lr,
            note=f"(interleaved empty-db {lr:.1f} ms)",
        ),
        Figure(
            "hist_window",
            "history: `scns history -S now-1day --limit 50`",
            "ms",
            w_big,
            "≤ 1.2 × empty-database figure",
            1.2 * wr,
            note=f"(interleaved empty-db {wr:.1f} ms)",
        ),
        Figure(
            "hist_window_all",
            f"history: `scns history -S now-1day` (all {day:,} jobs of the day)",
            "ms",
            whole_day,
            "(reported)",
        ),
    ]
