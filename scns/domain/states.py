"""Job states with Slurm's names, and the one table of transitions scns allows."""

from enum import StrEnum

from scns.domain import state_names as names


class JobState(StrEnum):
    PENDING = names.PENDING
    CONFIGURING = names.CONFIGURING  # resources allocated, process not started yet
    RUNNING = names.RUNNING
    COMPLETED = names.COMPLETED
    FAILED = names.FAILED
    CANCELLED = names.CANCELLED
    TIMEOUT = names.TIMEOUT
    NODE_FAIL = names.NODE_FAIL
    OUT_OF_MEMORY = names.OUT_OF_MEMORY

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def short(self) -> str:
        """squeue's two-letter compact state."""
        return SHORT[self]


TERMINAL = frozenset(JobState(name) for name in names.TERMINAL_NAMES)
LIVE = frozenset(JobState(name) for name in names.LIVE_NAMES)
ALLOCATED = frozenset(JobState(name) for name in names.ALLOCATED_NAMES)  # hold cores

SHORT = {
    JobState.PENDING: "PD",
    JobState.CONFIGURING: "CF",
    JobState.RUNNING: "R",
    JobState.COMPLETED: "CD",
    JobState.FAILED: "F",
    JobState.CANCELLED: "CA",
    JobState.TIMEOUT: "TO",
    JobState.NODE_FAIL: "NF",
    JobState.OUT_OF_MEMORY: "OOM",
}

_ENDINGS = TERMINAL

# from-state -> states it may move to. CONFIGURING/RUNNING may go back to PENDING
# only for a requeue (node failure with --requeue, or a launch that never ran).
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.CONFIGURING, JobState.CANCELLED, JobState.FAILED}),
    JobState.CONFIGURING: frozenset({JobState.RUNNING, JobState.PENDING} | _ENDINGS),
    JobState.RUNNING: frozenset({JobState.PENDING} | _ENDINGS),
    **{state: frozenset() for state in TERMINAL},
}


def can_move(current: JobState, target: JobState) -> bool:
    """True when the transition table allows current -> target."""
    return target in TRANSITIONS[current]


def parse_state(text: str) -> JobState:
    """Accept a state by full name or squeue short code, case-insensitively."""
    from scns.errors import InvalidInput

    key = text.strip().upper()
    for state in JobState:
        if key in (state.value, state.short):
            return state
    names = ", ".join(s.value for s in JobState)
    raise InvalidInput(f"unknown job state {text!r}: expected one of {names}")
