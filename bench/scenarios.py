"""The embedded (SQLite) scenarios of issue 6, each returning its figures.

Ratio targets compare against a baseline sampled *interleaved* with the figure in the same
scenario (one baseline call, one measured call, ...), so a burst of load from other users
of the machine hits both sides of the ratio alike.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

from harness import (
    CPUS,
    ROOT,
    BenchError,
    Home,
    Reader,
    bench_env,
    median,
    percentile,
    read_start_time,
    time_python_pass,
    time_xargs,
    time_xargs_script,
    wait_until,
)
from report import Figure, ms


def baselines(p: dict, base: dict) -> list[Figure]:
    """Interpreter start-up and the process-spawn limit, for the record and for ratios."""
    passes, rates, script_rates = [], [], []
    for _ in range(p["reps"]):
        passes.append(ms(median([time_python_pass() for _ in range(p["pass_samples"])])))
        rates.append(p["xargs_n"] / time_xargs(p["xargs_n"]))
        script_rates.append(p["xargs_n"] / time_xargs_script(p["xargs_n"]))
    base["python_pass_ms"] = median(passes)
    base["xargs_script_rate"] = median(script_rates)
    return [
        Figure("python_pass", "baseline: `python -c pass` (venv interpreter)", "ms", passes),
        Figure(
            "xargs_rate",
            f"baseline: `seq {p['xargs_n']} | xargs -P {CPUS} -n1 true`",
            "jobs/s",
            rates,
        ),
        Figure(
            "xargs_script_rate",
            f"baseline: `xargs -P {CPUS}` running the drain's job script (`#!/bin/sh` + `true`)",
            "jobs/s",
            script_rates,
        ),
    ]


def warm(home: Home) -> Home:
    """Create the schema (the first command on a fresh home runs the Alembic migration)."""
    home.scns("queue")
    return home


def submit_latency(p: dict, base: dict) -> list[Figure]:
    home = warm(Home.fresh("sub"))
    try:
        medians, p90s, pass_all = [], [], []
        for _ in range(p["reps"]):
            samples = []
            for _ in range(p["submit_n"]):
                pass_all.append(time_python_pass())
                samples.append(home.timed("submit", "--parsable", "--wrap", "true")[0])
            medians.append(ms(median(samples)))
            p90s.append(ms(percentile(samples, 90)))
        pass_ms = ms(median(pass_all))
    finally:
        home.close()
    base["submit_empty_ms"] = median(medians)
    n = p["submit_n"]
    return [
        Figure(
            "submit_median",
            f"submit latency, median of {n}",
            "ms",
            medians,
            "≤ 2.5 × `python -c pass`",
            2.5 * pass_ms,
            note=f"(interleaved `python -c pass` median {pass_ms:.1f} ms)",
        ),
        Figure("submit_p90", f"submit latency, p90 of {n}", "ms", p90s, "(reported)"),
    ]


def socket_submit_latency(p: dict, base: dict) -> list[Figure]:
    """Submit through a system-mode daemon's socket, interleaved with the direct path."""
    if os.geteuid() != 0:
        raise BenchError("the system-mode socket needs root (run make bench as root)")
    sock = os.path.join(tempfile.mkdtemp(prefix="sbsock-", dir="/tmp"), "scns.sock")
    system = Home.fresh("sys", {"SCNS_SOCKET": sock})
    direct = warm(Home.fresh("dir"))
    try:
        system.daemon("n1", 1, None, "--system")
        wait_until(lambda: os.path.exists(sock), 30, what="the socket")
        through, plain = [], []
        for _ in range(p["reps"]):
            a, b = [], []
            for _ in range(p["submit_n"]):
                a.append(system.timed("submit", "--parsable", "-H", "--wrap", "true")[0])
                b.append(direct.timed("submit", "--parsable", "-H", "--wrap", "true")[0])
            through.append(ms(median(a)))
            plain.append(ms(median(b)))
    finally:
        system.close()
        direct.close()
        shutil.rmtree(os.path.dirname(sock), ignore_errors=True)
    plain_ms = median(plain)
    n = p["submit_n"]
    return [
        Figure("submit_socket_median", f"submit through the system socket, median of {n}",
               "ms", through, "≤ 1.2 × direct submit", 1.2 * plain_ms,
               note=f"(interleaved direct submit median {plain_ms:.1f} ms)"),
    ]  # fmt: skip


def system_throughput(p: dict, base: dict) -> list[Figure]:
    """The drain of another user's jobs under a root system-mode daemon: each job's
    supervisor is forked by the node's launcher and drops to the user (the path a shared
    machine runs every job through)."""
    if os.geteuid() != 0:
        raise BenchError("a system-mode daemon needs root (run make bench as root)")
    n = p["throughput_n"]
    name = f"sbjob{os.getpid() % 100000}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    name], check=True, capture_output=True)  # fmt: skip
    rates, once, no_oversub = [], [], []
    try:
        account = pwd.getpwnam(name)
        for _ in range(p["reps"]):
            home = warm(Home.fresh("sysdr"))
            sock = os.path.join(home.path, "scns.sock")
            reader = Reader(home.db_path)
            try:  # submitted directly, then handed to the user: the user needs no venv access
                home.scns("submit", "-a", f"0-{n - 1}", "-D", "/tmp", "-o", "/dev/null",
                          "--wrap", "true")  # fmt: skip
                seed = sqlite3.connect(home.db_path)
                with seed:
                    seed.execute("UPDATE jobs SET uid = ?, gid = ?, user_name = ?",
                                 (account.pw_uid, account.pw_gid, name))  # fmt: skip
                seed.close()
                home.env["SCNS_SOCKET"] = sock
                daemon = home.daemon("n1", CPUS, None, "--system")
                wait_until(lambda r=reader: r.count_finished() >= n, 60 + n / 10, 0.02,
                           f"{n} jobs to finish")  # fmt: skip
                states = reader.rows("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                if states != [("COMPLETED", n)]:
                    raise BenchError(f"not every job completed: {states}")
                (last_end,) = reader.rows("SELECT MAX(end_time) FROM jobs")[0]
                rates.append(n / (last_end - daemon.spawned_at))
                once.append(float(check_exactly_once(reader, n)))
                no_oversub.append(float(check_no_oversubscription(reader, CPUS)))
            finally:
                reader.close()
                home.close()
    finally:
        subprocess.run(["userdel", name], capture_output=True)
    return [
        Figure("system_throughput",
               f"system mode: throughput, {n} `true` jobs of another user, daemon start → last"
               " COMPLETED", "jobs/s", rates, "(reported)", higher_is_better=True),
        Figure("system_exactly_once", "system mode check: every job ran exactly once",
               "check", once, "all runs pass", 1.0, higher_is_better=True),
        Figure("system_no_oversubscription", "system mode check: no core held twice",
               "check", no_oversub, "all runs pass", 1.0, higher_is_better=True),
    ]  # fmt: skip


def measure_submit_to_start(home: Home, reader: Reader, count: int, tag: str) -> list[float]:
    """Submit one job at a time to an idle daemon; seconds from just before submit to start."""
    latencies = []
    for i in range(count):
        out = os.path.join(home.path, f"s2s-{tag}-{i}.out")
        before = time.time()
        job_id = home.scns("submit", "--parsable", "-o", out, "--wrap", "date +%s.%N").stdout
        started = wait_until(lambda out=out: read_start_time(out), 30, 0.002, "job start")
        latencies.append(started - before)
        wait_until(
            lambda j=int(job_id): (
                reader.scalar(  # idle again before the next one
                    "SELECT state FROM jobs WHERE id = :id", {"id": j}
                )
                == "COMPLETED"
            ),
            30,
            0.005,
            "job to complete",
        )
    return latencies


def submit_to_start(p: dict, base: dict) -> list[Figure]:
    home = warm(Home.fresh("s2s"))
    reader = Reader(home.db_path)
    try:
        home.daemon("b1", CPUS)
        meds, p90s = [], []
        for rep in range(p["reps"]):
            lat = measure_submit_to_start(home, reader, p["s2s_n"], str(rep))
            meds.append(ms(median(lat)))
            p90s.append(ms(percentile(lat, 90)))
    finally:
        reader.close()
        home.close()
    n = p["s2s_n"]
    return [
        Figure("s2s_median", f"submit → start, median of {n}", "ms", meds, "≤ 50 ms", 50),
        Figure("s2s_p90", f"submit → start, p90 of {n}", "ms", p90s, "≤ 100 ms", 100),
    ]


def throughput(p: dict, base: dict) -> list[Figure]:
    n = p["throughput_n"]
    rates, steady, startup, once, no_oversub = [], [], [], [], []
    for _ in range(p["reps"]):
        home = warm(Home.fresh("tput"))
        reader = Reader(home.db_path)
        try:
            home.scns("submit", "-a", f"0-{n - 1}", "--wrap", "true")
            daemon = home.daemon("b1", CPUS)
            wait_until(
                lambda r=reader: r.count_finished() >= n, 60 + n / 10, 0.02, f"{n} jobs to finish"
            )
            first_start, last_end = reader.rows("SELECT MIN(start_time), MAX(end_time) FROM jobs")[
                0
            ]
            rates.append(n / (last_end - daemon.spawned_at))
            steady.append(n / (last_end - first_start))
            startup.append(ms(daemon.started_at - daemon.spawned_at))
            once.append(float(check_exactly_once(reader, n)))
            no_oversub.append(float(check_no_oversubscription(reader, CPUS)))
        finally:
            reader.close()
            home.close()
    bare = base.get("xargs_script_rate")
    return [
        Figure(
            "throughput",
            f"throughput, {n} `true` jobs, daemon start → last COMPLETED",
            "jobs/s",
            rates,
            f"≥ 250 jobs/s on {CPUS} CPUs",
            250,
            higher_is_better=True,
        ),
        Figure(
            "throughput_vs_xargs",
            f"throughput, {n} `true` jobs, daemon start → last COMPLETED (issue 14's bar)",
            "jobs/s",
            rates,
            "≥ 2/3 × `xargs` on the same script",
            2 * bare / 3 if bare else None,
            higher_is_better=True,
            note=f"(xargs baseline {bare:.0f} jobs/s)" if bare else "(run with baselines)",
        ),
        Figure(
            "throughput_steady",
            "throughput, first job start → last end (no daemon start-up)",
            "jobs/s",
            steady,
            "(reported)",
        ),
        Figure(
            "daemon_startup",
            "daemon start-up (spawn → `daemon_started` logged)",
            "ms",
            startup,
            "(reported)",
        ),
        Figure(
            "exactly_once",
            "check: every job ran exactly once (events + rows)",
            "check",
            once,
            "all runs pass",
            1.0,
            higher_is_better=True,
        ),
        Figure(
            "no_oversub",
            "check: no core held by two jobs at once (start/end, cpu_ids)",
            "check",
            no_oversub,
            "all runs pass",
            1.0,
            higher_is_better=True,
        ),
    ]


def check_exactly_once(reader: Reader, n: int) -> bool:
    """Every job COMPLETED, with one ``started`` and one ``completed`` event and no requeue.

    Plain SQL that runs on SQLite and PostgreSQL alike.
    """
    completed = reader.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'COMPLETED'")
    bad = reader.scalar(
        "SELECT COUNT(*) FROM (SELECT j.id,"
        " SUM(CASE WHEN e.kind = 'started' THEN 1 ELSE 0 END) AS s,"
        " SUM(CASE WHEN e.kind = 'completed' THEN 1 ELSE 0 END) AS c,"
        " SUM(CASE WHEN e.kind NOT IN ('started', 'completed') THEN 1 ELSE 0 END) AS o"
        " FROM jobs j LEFT JOIN events e ON e.job_id = j.id GROUP BY j.id) t"
        " WHERE s IS NULL OR s != 1 OR c != 1 OR o != 0"
    )
    restarts = reader.scalar("SELECT COALESCE(SUM(restarts), 0) FROM jobs")
    return completed == n and bad == 0 and restarts == 0


def check_no_oversubscription(reader: Reader, cpus: int) -> bool:
    """On each (node, core), the recorded [start, end] intervals never overlap."""
    per_core: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for node, cpu_ids, start, end in reader.rows(
        "SELECT node, cpu_ids, start_time, end_time FROM jobs WHERE start_time IS NOT NULL"
    ):
        for core in (cpu_ids or "").split(","):
            per_core.setdefault((node, core), []).append((start, end))
    if len({core for _node, core in per_core}) > cpus:
        return False
    for spans in per_core.values():
        spans.sort()
        for (_s1, e1), (s2, _e2) in itertools.pairwise(spans):
            if s2 < e1:
                return False
    return True


def array_submit(p: dict, base: dict) -> list[Figure]:
    n = p["array_n"]
    runs = []
    for _ in range(p["reps"]):
        home = warm(Home.fresh("arr"))
        try:
            runs.append(ms(home.timed("submit", "-a", f"0-{n - 1}", "--wrap", "true")[0]))
        finally:
            home.close()
    return [Figure("array_submit", f"array submit `-a 0-{n - 1}`", "ms", runs, "≤ 1 s", 1000)]


def idle_daemon(p: dict, base: dict) -> list[Figure]:
    """The repetitions run side by side (idle daemons barely compete) to keep the run short."""
    homes = [warm(Home.fresh(f"idle{i}")) for i in range(p["reps"])]
    try:
        daemons = [h.daemon(f"idle{i}", CPUS) for i, h in enumerate(homes)]
        before = [d.proc_stat()[0] for d in daemons]
        time.sleep(p["idle_s"])  # the measurement itself: doing nothing for idle_s
        after = [d.proc_stat() for d in daemons]
    finally:
        for h in homes:
            h.close()
    rss = [a[1] / 2**20 for a in after]
    cpu = [(a[0] - b) * 60 / p["idle_s"] for a, b in zip(after, before, strict=True)]
    s = p["idle_s"]
    return [
        Figure("idle_rss", f"idle daemon RSS after {s} s", "MB", rss, "≤ 80 MB", 80),
        Figure(
            "idle_cpu",
            f"idle daemon CPU over {s} s, per minute",
            "CPU s/min",
            cpu,
            "≤ 0.3 CPU s/min",
            0.3,
        ),
    ]


def wait_idle(reader: Reader, timeout: float = 120) -> None:
    wait_until(
        lambda: (
            reader.scalar(
                "SELECT COUNT(*) FROM jobs WHERE state IN ('CONFIGURING', 'RUNNING')"
                " OR (state = 'PENDING' AND held = 0)"
            )
            == 0
        ),
        timeout,
        0.05,
        "queue to drain",
    )


def require(condition: bool, message: str) -> None:
    if not condition:
        raise BenchError(message)


def installed_submit_latency(p: dict, base: dict) -> list[Figure]:
    """Submit as users install scns: ``pip install .`` into a fresh venv (pip's own install
    of the `scns` command, byte-code compiled by pip), embedded and through a system-mode
    daemon's socket, each interleaved with that venv's ``python -c pass``."""
    venv = tempfile.mkdtemp(prefix="sbvenv-", dir="/tmp")
    env = {k: v for k, v in bench_env().items() if k != "PYTHONPYCACHEPREFIX"}
    try:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True, env=env)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", ROOT], check=True,
                       env=env, capture_output=True)  # fmt: skip
        shutil.rmtree(os.path.join(ROOT, "build"), ignore_errors=True)  # pip's build tree
        python, scns = os.path.join(venv, "bin", "python"), os.path.join(venv, "bin", "scns")
        figs = [_installed_embedded(p, python, scns, env)]
        if os.geteuid() == 0:
            figs.append(_installed_socket(p, python, scns, env))
        return figs
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def _timed(argv: list[str], env: dict[str, str], cwd: str = "/") -> float:
    began = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True)
    elapsed = time.perf_counter() - began
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed: {proc.stderr.decode()[:300]}")
    return elapsed


def _interleaved_submit(p, python, scns, env) -> tuple[list[float], float]:
    submit = [scns, "submit", "--parsable", "-H", "--wrap", "true"]
    _timed(submit, env)  # the first command of a home creates its database
    medians, passes, _ = interleaved(
        p["reps"], p["submit_n"], lambda: _timed([python, "-c", "pass"], env),
        lambda: _timed(submit, env),
    )  # fmt: skip
    return medians, median(passes)


def interleaved(reps: int, samples: int, a, b) -> tuple[list[float], list[float], list[float]]:
    """Per-rep medians of ``b`` (ms), every sample of ``a`` (ms), per-rep medians of ``a``."""
    b_meds, a_all, a_meds = [], [], []
    for _ in range(reps):
        xs, ys = [], []
        for _ in range(samples):
            xs.append(ms(a()))
            ys.append(ms(b()))
        a_all += xs
        a_meds.append(median(xs))
        b_meds.append(median(ys))
    return b_meds, a_all, a_meds


def _installed_embedded(p, python, scns, env) -> Figure:
    home = tempfile.mkdtemp(prefix="sbinst-", dir="/tmp")
    try:
        medians, pass_ms = _interleaved_submit(p, python, scns, dict(env, SCNS_HOME=home))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return Figure("submit_installed", "submit latency, `pip install .` into a fresh venv",
                  "ms", medians, "≤ 2 × that venv's `python -c pass`", 2 * pass_ms,
                  note=f"(interleaved `python -c pass` median {pass_ms:.1f} ms)")  # fmt: skip


def _installed_socket(p, python, scns, env) -> Figure:
    sock = os.path.join(tempfile.mkdtemp(prefix="sbsock-", dir="/tmp"), "scns.sock")
    system = Home.fresh("isys", {"SCNS_SOCKET": sock})
    try:
        system.daemon("n1", 1, None, "--system")
        wait_until(lambda: os.path.exists(sock), 30, what="the socket")
        client = {k: v for k, v in env.items() if k != "SCNS_HOME"}
        medians, pass_ms = _interleaved_submit(p, python, scns, dict(client, SCNS_SOCKET=sock))
    finally:
        system.close()
        shutil.rmtree(os.path.dirname(sock), ignore_errors=True)
    return Figure("submit_installed_socket",
                  "submit latency through the system socket, `pip install .` into a fresh venv",
                  "ms", medians, "≤ 2 × that venv's `python -c pass`", 2 * pass_ms,
                  note=f"(interleaved `python -c pass` median {pass_ms:.1f} ms)")  # fmt: skip
