"""Slurm `--dependency` expressions: parse, print canonically, and decide if a job may start."""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from scns.domain.state_names import LIVE_NAMES, TERMINAL_NAMES
from scns.errors import InvalidInput

KINDS = ("after", "afterok", "afternotok", "afterany", "singleton")
TERMINAL_STATES = frozenset(TERMINAL_NAMES)
KNOWN_STATES = TERMINAL_STATES | frozenset(LIVE_NAMES)
SATISFIED, WAITING, NEVER = "satisfied", "waiting", "never"
_FORMS = "expected KIND:JOB[_TASK][:JOB...] or singleton, joined by ',' (all) or '?' (any)"
_JOB_REF = re.compile(r"([0-9]{1,18})(?:_([0-9]{1,18}))?")


@dataclass(frozen=True, order=True)
class JobRef:
    """One job (`123`) or one array task (`123_4`) that a condition waits on."""

    job_id: int
    task_id: int | None = None

    def __str__(self) -> str:
        return str(self.job_id) if self.task_id is None else f"{self.job_id}_{self.task_id}"


@dataclass(frozen=True)
class Condition:
    """One `kind:ref[:ref...]` clause; singleton has no refs."""

    kind: str
    job_refs: tuple[JobRef, ...] = ()

    def __str__(self) -> str:
        return ":".join([self.kind, *map(str, self.job_refs)])


@dataclass(frozen=True)
class Dependency:
    """Conditions joined by ',' (require_all) or '?' (any one suffices)."""

    conditions: tuple[Condition, ...]
    require_all: bool = True

    def __post_init__(self) -> None:
        # With one condition ',' and '?' mean the same: keep one canonical value so
        # parse(format(dep)) == dep holds.
        if len(self.conditions) <= 1 and not self.require_all:
            object.__setattr__(self, "require_all", True)

    def job_refs(self) -> frozenset[JobRef]:
        """Every job or task the caller must look up before calling evaluate()."""
        return frozenset(ref for cond in self.conditions for ref in cond.job_refs)


def _invalid(text: str, why: str = _FORMS) -> InvalidInput:
    return InvalidInput(f"invalid --dependency {text!r}: {why}")


def _parse_ref(text: str, field: str) -> JobRef:
    match = _JOB_REF.fullmatch(field)
    if match is None or int(match.group(1)) == 0:
        raise _invalid(text, f"bad job id {field!r}: expected JOB or JOB_TASK, JOB > 0")
    task = match.group(2)
    return JobRef(int(match.group(1)), None if task is None else int(task))


def _parse_condition(text: str, clause: str) -> Condition:
    kind, *fields = clause.split(":")
    if kind.isdigit() and not fields:
        # Slurm's legacy form: a bare job id means afterany.
        return Condition("afterany", (_parse_ref(text, kind),))
    kind = kind.lower()
    if kind not in KINDS:
        raise _invalid(text, f"unknown dependency type {kind!r}: use {', '.join(KINDS)}")
    if kind == "singleton":
        if fields:
            raise _invalid(text, "singleton takes no job ids")
        return Condition(kind)
    if not fields:
        raise _invalid(text, f"{kind} needs at least one job id")
    return Condition(kind, tuple(_parse_ref(text, field) for field in fields))


def parse_dependency(text: str) -> Dependency:
    """Parse a Slurm `-d/--dependency` value; mixing ',' and '?' is rejected."""
    stripped = text.strip()
    if "," in stripped and "?" in stripped:
        raise _invalid(text, "cannot mix ',' (all) and '?' (any)")
    require_all = "?" not in stripped
    clauses = stripped.split("," if require_all else "?")
    if not all(clauses):
        raise _invalid(text)
    return Dependency(tuple(_parse_condition(text, c) for c in clauses), require_all)


def format_dependency(dep: Dependency) -> str:
    """Canonical text for a dependency; parse_dependency() of it gives `dep` back."""
    return ("," if dep.require_all else "?").join(map(str, dep.conditions))


def _ref_outcome(kind: str, state: str, exit_code: int | None) -> str:
    """Whether one referenced job's (state, exit code) meets one condition kind."""
    if state not in KNOWN_STATES:
        raise ValueError(f"unknown job state {state!r}")
    if kind == "after":  # started, or cancelled before it could start
        return WAITING if state == "PENDING" else SATISFIED
    if state not in TERMINAL_STATES:
        return WAITING
    if kind == "afterany":
        return SATISFIED
    succeeded = state == "COMPLETED" and exit_code in (None, 0)
    return SATISFIED if succeeded == (kind == "afterok") else NEVER


def _combine(outcomes: list[str], require_all: bool) -> str:
    if require_all:
        if NEVER in outcomes:
            return NEVER
        return SATISFIED if all(o == SATISFIED for o in outcomes) else WAITING
    if SATISFIED in outcomes:
        return SATISFIED
    return NEVER if all(o == NEVER for o in outcomes) else WAITING


def evaluate(
    dep: Dependency,
    states: Mapping[JobRef, tuple[str, int | None]],
    *,
    singleton_clear: bool = False,
) -> str:
    """Decide "satisfied", "waiting" or "never" for a pending job's dependency.

    `states` maps every ref in dep.job_refs() to (state name, exit code); a missing ref is a
    KeyError. For a ref without a task id naming an array, the caller passes the array's
    aggregate (e.g. COMPLETED only once every task completed). `singleton_clear` is the
    caller's answer to "no other job with this name and user is running, configuring or
    pending ahead of this one"; it defaults to False so a forgotten answer waits, not runs.
    As in Slurm, every job id counts separately: `afterok:1:2?afterany:3` is satisfied by any
    one of the three, and `afterok:1:2` needs both.
    """
    outcomes = []
    for cond in dep.conditions:
        if cond.kind == "singleton":
            outcomes.append(SATISFIED if singleton_clear else WAITING)
        for ref in cond.job_refs:
            state, exit_code = states[ref]
            outcomes.append(_ref_outcome(cond.kind, state, exit_code))
    return _combine(outcomes, dep.require_all)
