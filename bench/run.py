"""``make bench``: every scenario of issue 6, a table on stdout, results.json and results.md.

Usage: bench/run.py [--quick] [--only NAME,...] [--out DIR]

Each scenario gets its own scratch SCNS_HOME under /tmp; a scenario that fails is recorded
with its error and the run goes on.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bigdb
import bulk
import cluster
import report
import scenarios
from harness import CPUS, prepare

FULL = {
    "reps": 3,
    "pass_samples": 20,
    "xargs_n": 2000,
    "submit_n": 100,
    "s2s_n": 30,
    "throughput_n": 2000,
    "array_n": 10_000,
    "idle_s": 60,
    "bigq_n": 100_000,
    "bigq_samples": 10,
    "history_n": 1_000_000,
    "history_samples": 10,
    "bulk_n": 100_000,
}
QUICK = {
    **FULL,
    "pass_samples": 10,
    "xargs_n": 500,
    "submit_n": 30,
    "s2s_n": 10,
    "throughput_n": 500,
    "idle_s": 10,
    "bigq_samples": 4,
    "history_n": 200_000,
    "history_samples": 4,
}

SCENARIOS = {
    "baselines": scenarios.baselines,
    "submit": scenarios.submit_latency,
    "socket": scenarios.socket_submit_latency,
    "installed": scenarios.installed_submit_latency,
    "s2s": scenarios.submit_to_start,
    "throughput": scenarios.throughput,
    "system": scenarios.system_throughput,
    "array": scenarios.array_submit,
    "idle": scenarios.idle_daemon,
    "bigqueue": bigdb.big_queue,
    "history": bigdb.history,
    "cluster": cluster.cluster,
    "bulk": bulk.bulk_arrays,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="everyday mode, under 2 minutes")
    parser.add_argument("--only", help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    parser.add_argument(
        "--out",
        default=os.path.dirname(os.path.abspath(__file__)),
        help="where results.json and results.md go (default: bench/)",
    )
    args = parser.parse_args(argv)
    params = dict(QUICK if args.quick else FULL)
    chosen = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [c for c in chosen if c not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    # SIGTERM unwinds like Ctrl-C, so every scenario's finally stops its daemons
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.perf_counter()
    prepare()
    base: dict = {}
    figures: list[report.Figure] = []
    notes: list[str] = []
    if "cluster" in chosen and not cluster.configured():
        notes.append(
            "PostgreSQL + Redis scenario skipped: SCNS_BENCH_DATABASE_URL and"
            " SCNS_BENCH_REDIS_URL are not both set."
        )
    for name in chosen:
        t0 = time.perf_counter()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        try:
            found = SCENARIOS[name](params, base)
        except Exception as exc:  # one broken scenario must not lose the others' figures
            traceback.print_exc()
            found = [report.Figure(name, f"{name} scenario", "", error=str(exc)[:200])]
        for fig in found:
            print("   " + report.row(fig), file=sys.stderr, flush=True)
        print(f"   ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
        figures += found
    for key, value in base.items():
        if key.endswith("_seed_s"):
            notes.append(f"seeding {key[:-7]} through SQL took {value} s (not part of any figure)")
    params["cpus"] = CPUS
    os.makedirs(args.out, exist_ok=True)
    json_path, md_path, text = report.write(
        figures,
        quick=args.quick,
        params=params,
        out_dir=args.out,
        elapsed_s=time.perf_counter() - began,
        notes=notes,
    )
    print(text)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
