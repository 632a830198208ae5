"""Figures, their targets, and the two outputs: ``results.json`` and the Markdown table."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field


@dataclass
class Figure:
    """One measured figure: a value per repetition, reported as median [min–max]."""

    key: str
    label: str
    unit: str  # "ms", "jobs/s", "MB", "s", "CPU s/min", "check"
    runs: list[float] = field(default_factory=list)
    target: str = ""  # the wording, e.g. "≤ 2.5 × python -c pass"
    limit: float | None = None  # the number the median is compared with
    higher_is_better: bool = False
    note: str = ""
    error: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    @property
    def met(self) -> bool | None:
        if self.error or self.median is None or self.limit is None:
            return None
        if self.higher_is_better:
            return self.median >= self.limit
        return self.median <= self.limit

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(
            median=self.median,
            min=min(self.runs, default=None),
            max=max(self.runs, default=None),
            met=self.met,
        )
        return d


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "check":
        return "pass" if value else "FAIL"
    if unit == "ms" and value >= 1000:
        return f"{value / 1000:.2f} s"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:.{digits}f} {unit}"


def row(f: Figure) -> str:
    if f.error:
        measured = f"error: {f.error}"
    elif f.unit == "check":
        measured = fmt(f.median, "check") + f" ({len(f.runs)} runs)"
    else:
        measured = (
            f"{fmt(f.median, f.unit)} [{fmt(min(f.runs), f.unit)}–{fmt(max(f.runs), f.unit)}]"
            if f.runs
            else "—"
        )
    limit = ""
    if f.limit is not None and f.unit != "check":
        limit = f" (= {fmt(f.limit, f.unit)})"
    met = {True: "yes", False: "**no**", None: "—"}[f.met]
    note = f" {f.note}" if f.note else ""
    cells = (f"{f.label}{note}", measured, f"{f.target}{limit}", met)
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def write(
    figures: list[Figure],
    *,
    quick: bool,
    params: dict,
    out_dir: str,
    elapsed_s: float,
    notes: list[str],
) -> tuple[str, str, str]:
    meta = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": "quick" if quick else "full",
        "host": platform.node(),
        "python": platform.python_version(),
        "cpus": len(os.sched_getaffinity(0)),
        "load_avg_at_end": os.getloadavg(),
        "elapsed_s": round(elapsed_s, 1),
        "params": params,
        "notes": notes,
    }
    json_path = os.path.join(out_dir, "results.json")
    with open(json_path, "w") as handle:
        json.dump({"meta": meta, "figures": [f.as_dict() for f in figures]}, handle, indent=2)
        handle.write("\n")
    md_path = os.path.join(out_dir, "results.md")
    text = markdown(figures, meta)
    with open(md_path, "w") as handle:
        handle.write(text)
    return json_path, md_path, text


def markdown(figures: list[Figure], meta: dict) -> str:
    mode = meta["mode"]
    lines = [
        "# scns benchmark results",
        "",
        f"{meta['when']}, {mode} mode"
        + (
            " (QUICK: fewer repetitions and smaller N — not the issue's sizes)"
            if mode == "quick"
            else ""
        )
        + f", {meta['cpus']} CPUs, Python {meta['python']}, {meta['elapsed_s']} s,"
        f" load average at the end {', '.join(f'{x:.2f}' for x in meta['load_avg_at_end'])}.",
        "Each figure is the median of its repetitions, [min–max] across them. How each is"
        " measured: [README.md](README.md).",
        "",
        "Parameters: " + ", ".join(f"{k}={v}" for k, v in meta["params"].items()),
        "",
        "| Figure | Measured median [min–max] | Target | Met? |",
        "|---|---|---|---|",
    ]
    lines += [row(f) for f in figures]
    met = sum(1 for f in figures if f.met)
    missed = [f.label for f in figures if f.met is False]
    lines += [
        "",
        f"{met} targets met, {len(missed)} missed"
        + (": " + "; ".join(missed) if missed else "")
        + ".",
    ]
    if meta["notes"]:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in meta["notes"]]
    return "\n".join(lines) + "\n"
