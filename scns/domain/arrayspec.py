"""Slurm `--array` index specs: the task ids to create and how many may run at once."""

import re
from dataclasses import dataclass

from scns.errors import InvalidInput

MAX_TASK_ID = 4_000_000
_FORMS = "expected ids like 0-15, 1,3,5, 0-15:4 or 1,3,10-20:2, optionally ending in %N"
_PART = re.compile(r"([0-9]{1,8})(?:-([0-9]{1,8})(?::([0-9]{1,8}))?)?")


@dataclass(frozen=True)
class ArraySpec:
    """Sorted, distinct task ids and the optional `%N` cap on tasks running at once."""

    task_ids: tuple[int, ...]
    max_running: int | None = None


def _invalid(text: str, why: str = _FORMS) -> InvalidInput:
    return InvalidInput(f"invalid --array {text!r}: {why}")


def _part_range(text: str, part: str) -> range:
    match = _PART.fullmatch(part)
    if match is None:
        raise _invalid(text)
    first = int(match.group(1))
    last = first if match.group(2) is None else int(match.group(2))
    step = 1 if match.group(3) is None else int(match.group(3))
    if last < first:
        raise _invalid(text, f"range {part!r} is reversed")
    if step <= 0:
        raise _invalid(text, f"step in {part!r} must be at least 1")
    if last > MAX_TASK_ID:
        raise _invalid(text, f"task id {last} is above the maximum {MAX_TASK_ID}")
    return range(first, last + 1, step)


def _split_max_running(text: str) -> tuple[str, int | None]:
    ids_text, percent, limit = text.strip().partition("%")
    if not percent:
        return ids_text, None
    if not (limit.isascii() and limit.isdigit()) or len(limit) > 8 or int(limit) < 1:
        raise _invalid(text, f"%{limit} must be a whole number of at least 1")
    return ids_text, int(limit)


def parse_array(text: str, max_tasks: int = 1_000_001) -> ArraySpec:
    """Parse a Slurm `-a/--array` value; more than `max_tasks` distinct tasks is rejected."""
    ids_text, max_running = _split_max_running(text)
    ids: set[int] = set()
    scanned = 0
    for part in ids_text.split(","):
        ids_range = _part_range(text, part)
        scanned += len(ids_range)
        # The scan budget stops "0-1000000,0-1000000,..." from burning CPU on duplicates.
        if len(ids_range) > max_tasks or scanned > 4 * max_tasks:
            raise _invalid(text, f"more than {max_tasks} tasks")
        ids.update(ids_range)
        if len(ids) > max_tasks:
            raise _invalid(text, f"more than {max_tasks} tasks")
    return ArraySpec(tuple(sorted(ids)), max_running)


def _chunk(ids: tuple[int, ...], start: int) -> tuple[str, int]:
    """The shortest text for ids[start:] 's first run, and where the next chunk starts."""
    end = start + 1
    if end < len(ids):
        step = ids[end] - ids[start]
        while end + 1 < len(ids) and ids[end + 1] - ids[end] == step:
            end += 1
        as_range = f"{ids[start]}-{ids[end]}" + (f":{step}" if step > 1 else "")
        as_list = ",".join(map(str, ids[start : end + 1]))
        if len(as_range) < len(as_list):
            return as_range, end + 1
    return str(ids[start]), start + 1


def format_array(spec: ArraySpec) -> str:
    """Compact text for an array spec (`0-15%2`, `1,3,5`); parse_array() of it round-trips."""
    chunks = []
    index = 0
    while index < len(spec.task_ids):
        chunk, index = _chunk(spec.task_ids, index)
        chunks.append(chunk)
    limit = "" if spec.max_running is None else f"%{spec.max_running}"
    return ",".join(chunks) + limit
