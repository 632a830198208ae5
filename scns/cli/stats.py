"""``scns stats``: the numbers an operator asks first, from the database in personal mode
or through the system daemon's socket."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from scns.errors import ScnsError


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)


def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Jobs by state, pending jobs by reason, CPUs per node; over the last hour and day the
    jobs started, their mean and 95th-percentile wait and CPU utilization; jobs started and
    ended in each of the last 24 hours.

    Example: scns stats --json
    """
    try:
        numbers = fetch(time.time())
    except ScnsError as exc:
        sys.stderr.write(f"scns stats: error: {exc}\n")
        raise typer.Exit(1) from None
    if as_json:
        from scns.cli import render

        render.print_json(as_dict(numbers))
    else:
        sys.stdout.write(as_text(numbers))


def fetch(now: float) -> dict:
    from scns.cli.remote import call, target

    sock = target()
    if sock:
        return call(sock, "stats", {})
    from scns.cli.context import open_db
    from scns.service.stats import gather

    db, _ = open_db()
    return gather(db, now)


def as_dict(numbers: dict) -> dict:
    """The JSON contract: times as ISO 8601 in the local zone, like every scns JSON."""
    from scns.cli.render import iso

    out = dict(numbers)
    out["time"] = iso(numbers["time"])
    out["hourly"] = [{**h, "hour": iso(h["hour"])} for h in numbers["hourly"]]
    return out


def as_text(numbers: dict) -> str:
    jobs = numbers["jobs"]
    lines = ["Jobs:   " + "  ".join(f"{state} {count}" for state, count in jobs.items()
                                    if count or state in ("PENDING", "RUNNING"))]  # fmt: skip
    reasons = numbers["pending_reasons"]
    lines.append("Queue:  " + ("  ".join(f"{r} {c}" for r, c in reasons.items()) or "empty"))
    cpus = numbers["cpus"]
    lines += ["", *_table(("NODE", "STATE", "CPUS", "ALLOC"),
                          [(n["name"], n["state"], n["cpus"], n["allocated_cpus"])
                           for n in numbers["nodes"]] + [("total", "", cpus["total"],
                                                          cpus["allocated"])])]  # fmt: skip
    rows = []
    for name, w in numbers["windows"].items():
        util = "-" if w["utilization"] is None else f"{100 * w['utilization']:.1f}%"
        rows.append((f"last {name}", w["started"], _duration(w["mean_wait_s"]),
                     _duration(w["p95_wait_s"]), util))  # fmt: skip
    lines += ["", *_table(("WINDOW", "STARTED", "MEAN WAIT", "P95 WAIT", "UTILIZATION"), rows)]
    hourly = [(time.strftime("%m-%d %H:%M", time.localtime(h["hour"])), h["started"], h["ended"])
              for h in numbers["hourly"] if h["started"] or h["ended"]]  # fmt: skip
    if hourly:  # the quiet hours are left out (--json has all 24)
        lines += ["", *_table(("HOUR", "STARTED", "ENDED"), hourly)]
    else:
        lines += ["", "No job started or ended in the last 24 hours."]
    return "\n".join(lines) + "\n"


def _table(header: tuple, rows: list[tuple]) -> list[str]:
    """Aligned columns: the first left-justified, the numbers right-justified."""
    cells = [tuple(str(c) for c in row) for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        padded = [
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(padded).rstrip())
    return lines


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"
