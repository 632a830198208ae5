"""``scancel``: cancel or signal jobs, as Slurm 22.05 does.

Finished and unknown ids are not errors (exit 0, nothing printed), so clients that cancel
what may already be gone (dask-jobqueue, submitit, Snakemake) see success. Another user's job
is Slurm's ``Kill job error on job id N: Access/permission denied`` and exit 1; the other
ids are still acted on. ``-s SIG`` signals running jobs only (every process of the job, as
``--full`` does); pending ones are left alone. ``-s KILL`` is a cancel, as in Slurm.
"""

from __future__ import annotations

import contextlib
import os
import signal as _signal
import sys

from scns.compat import slurm_format as fmt
from scns.errors import InvalidInput, ScnsError

_OPTIONS = (
    fmt.Option("signal", "s", ("signal",), "required"),
    fmt.Option("user", "u", ("user",), "required"),
    fmt.Option("name", "n", ("name", "jobname"), "required"),
    fmt.Option("state", "t", ("state", "states"), "required"),
    fmt.Option("partition", "p", ("partition",), "required"),
    fmt.Option("nodelist", "w", ("nodelist",), "required"),
    fmt.Option("me", None, ("me",)),
    fmt.Option("quiet", "Q", ("quiet",)),
    fmt.Option("verbose", "v", ("verbose",)),
    fmt.Option("ignored", "f", ("full",)),
    fmt.Option("ignored", "b", ("batch",)),
    fmt.Option("ignored", "H", ("hurry",)),
    fmt.Option("ignored", None, ("ctld", "sibling")),
    fmt.Option("ignored_value", "M", ("clusters", "cluster"), "required"),
    # Filters scns cannot apply: refused, since ignoring one would cancel too much.
    fmt.Option("-A/--account", "A", ("account",), "required"),
    fmt.Option("-q/--qos", "q", ("qos",), "required"),
    fmt.Option("-R/--reservation", "R", ("reservation",), "required"),
    fmt.Option("-W/--wckey", "W", ("wckey",), "required"),
    fmt.Option("-i/--interactive", "i", ("interactive",)),
    fmt.Option("help", None, ("help", "usage")),
    fmt.Option("version", "V", ("version",)),
)


class Request:
    """What one scancel command line asks for."""

    def __init__(self) -> None:
        self.refs: list[str] = []
        self.signal: int | None = None
        self.users: list[str] = []
        self.names: list[str] = []
        self.states: set[str] | None = None
        self.partition: str | None = None
        self.nodes: list[str] = []
        self.quiet = False
        self.verbose = False

    @property
    def has_filters(self) -> bool:
        chosen = (self.states, self.partition)
        return bool(self.users or self.names or self.nodes) or chosen != (None, None)


def main(args: list[str]) -> int:
    try:
        request = parse(args)
        targets = _targets(request)
    except _Exit as done:
        return done.code
    except ScnsError as exc:
        sys.stderr.write(f"scancel: error: {exc}\n")
        return 1
    return _act(request, targets) if targets else 0


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def parse(args: list[str]) -> Request:
    found, positional = fmt.parse_options(args, _OPTIONS)
    request = Request()
    for key, value in found:
        if key == "help":
            sys.stdout.write("Usage: scancel [-s SIG] [-u USER] [-n NAME] [-t STATE] ID...\n")
            raise _Exit(0)
        if key == "version":
            sys.stdout.write(f"slurm {fmt.SLURM_VERSION}\n")
            raise _Exit(0)
        if key.startswith("-"):
            raise InvalidInput(f"{key} is not supported by scns")
        _apply(request, key, value)
    for word in positional:
        request.refs += expand_job_ids(word)
    if not request.refs and not request.has_filters:
        raise InvalidInput("No job identification provided")
    return request


def _apply(request: Request, key: str, value: str | None) -> None:
    assert value is not None or key in ("me", "quiet", "verbose", "ignored")
    if key == "signal":
        from scns.domain.signals import parse_signal_name

        try:
            request.signal = parse_signal_name(value or "")
        except InvalidInput:
            raise InvalidInput(f"Invalid job signal: {value}") from None
    elif key == "user":
        request.users += [u for u in (value or "").split(",") if u]
    elif key == "me":
        request.users.append(_me())
    elif key == "name":
        request.names += [n for n in (value or "").split(",") if n]
    elif key == "state":
        names = fmt.parse_state_list(value or "")
        request.states = set(fmt.SLURM_STATES) if names is None else set(names)
    elif key == "partition":
        request.partition = value
    elif key == "nodelist":
        from scns.compat.sinfo import expand_hostlist

        request.nodes += expand_hostlist(value or "")
    elif key == "quiet":
        request.quiet = True
    elif key == "verbose":
        request.verbose = True


def expand_job_ids(word: str) -> list[str]:
    """``5``, ``5,6``, ``5_3``, ``5_[1-3,7]``: job references, checked."""
    from scns.compat.sinfo import expand_hostlist, split_outside_brackets

    refs = []
    for item in split_outside_brackets(word):
        head, under, tasks = item.partition("_")
        if head.isdigit() and tasks.startswith("[") and tasks.endswith("]"):
            with contextlib.suppress(InvalidInput):  # a bad range is reported just below
                refs += expand_hostlist(item)
                continue
        if not head.isdigit() or len(head) > 18 or (under and not tasks.isdigit()):
            raise InvalidInput(f"Invalid job id {item}")
        refs.append(item)
    return refs


def _targets(request: Request) -> list[str]:
    """The references to act on: the ids as given, or with filters the live jobs they (or,
    with no ids, all jobs) select."""
    if not request.has_filters:
        return request.refs
    from scns.compat.backend import fetch_jobs
    from scns.service.jobs import JobFilter

    if request.partition is not None and fmt.DEFAULT_PARTITION not in request.partition.split(","):
        return []
    states: tuple[str, ...] = ()
    if request.states is not None:
        states = tuple(_scns_states(request.states))
        if not states:
            return []  # only states scns never has (SUSPENDED, ...): nothing matches
    users = request.users
    if not users and not request.refs and os.geteuid() != 0:
        users = [_me()]  # filters alone name the caller's own jobs, not everyone's
    spec = JobFilter(refs=tuple(request.refs), names=tuple(request.names), users=tuple(users),
                     states=states, include_finished=False)  # fmt: skip
    jobs = fetch_jobs(spec)
    if request.nodes:
        jobs = [j for j in jobs if j.node in request.nodes]
    return [j.display_id for j in jobs]


def _me() -> str:
    """The caller's user name, from the real uid (never from the environment)."""
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _scns_states(names: set[str]) -> list[str]:
    """Slurm's live states as scns stores them: RUNNING covers a job still starting."""
    from scns.domain.states import LIVE

    wanted = set(names)
    if "RUNNING" in wanted:
        wanted.add("CONFIGURING")
    return sorted(s.value for s in LIVE if s.value in wanted)


def _act(request: Request, targets: list[str]) -> int:
    """Cancel (or signal) every target; an id that fails alone is retried alone, so one
    unknown or forbidden id does not stop the others."""
    from scns.compat import backend

    kill = request.signal in (None, _signal.SIGKILL)

    def run(refs: list[str]) -> None:
        if kill:
            backend.cancel(refs)
        else:
            backend.signal(refs, request.signal)  # type: ignore[arg-type]

    if request.verbose:
        verb = "Terminating" if kill else f"Signalling ({request.signal})"
        for ref in targets:
            sys.stderr.write(f"scancel: {verb} job {ref}\n")
    try:
        run(targets)
        return 0
    except ScnsError as exc:
        if len(targets) == 1 or _kind(exc) not in ("NotFound", "PermissionDenied"):
            return _report(request, targets[0], exc)
    rc = 0
    for ref in targets:
        try:
            run([ref])
        except ScnsError as exc:
            rc = max(rc, _report(request, ref, exc))
    return rc


def _kind(exc: ScnsError) -> str:
    return getattr(exc, "kind", type(exc).__name__)


def _report(request: Request, ref: str, exc: ScnsError) -> int:
    """Slurm 22.05: an unknown (or purged) id is silent success; the rest are errors."""
    kind = _kind(exc)
    if kind == "NotFound":
        return 0
    if kind == "PermissionDenied":
        message = f"Kill job error on job id {ref}: Access/permission denied"
    else:
        message = str(exc)
    if not request.quiet:
        sys.stderr.write(f"scancel: error: {message}\n")
    return 1
