"""Holding a job whole: one cgroup per job, so every process it starts is found, limited,
measured and killed with it (Slurm's proctrack/cgroup and task/cgroup).

cgroup v2 where the host runs it (``cgroup.kill``, ``memory.max``, ``memory.events``,
``cpuset.cpus``, ``pids.max``, ``cpu.stat``); cgroup v1 where that is what the host mounts
(one directory per controller: freezer to stop the job while it is killed, memory, cpuset,
pids, cpuacct). Where neither can be written (an unprivileged personal daemon without a
delegated subtree) ``detect`` returns None and the daemon falls back to process groups.

The daemon creates the job's directories before the launch; the job's first process (the
supervisor's subshell) writes "0" into each ``cgroup.procs`` (the writer joins) before
anything of the job runs, so nothing of the job ever runs outside. A job cannot leave: the
directories are the daemon's, and moving a process needs write access to both ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass

ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("freezer", "memory", "cpuset", "pids", "cpuacct")
_PREFIX = "scns"
_USER_HZ = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    """What a job used, for its record (sacct's MaxRSS and TotalCPU)."""

    max_rss_bytes: int | None
    cpu_user_s: float | None
    cpu_system_s: float | None

    def as_tuple(self) -> tuple[int | None, float | None, float | None]:
        return self.max_rss_bytes, self.cpu_user_s, self.cpu_system_s


class JobCgroup:
    """One job's cgroup: its directories (one, or one per v1 controller)."""

    kind = ""

    def __init__(self, dirs: dict[str, str]) -> None:
        self.dirs = dirs  # controller ("" on v2) -> directory

    @property
    def procs_files(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self.dirs.values()]

    def pids(self) -> list[int]:
        """Every process of the job (v1: the freezer's view, which holds all of them)."""
        path = os.path.join(self._main_dir, "cgroup.procs")
        try:
            with open(path) as handle:
                return [int(line) for line in handle.read().split()]
        except (OSError, ValueError):
            return []

    @property
    def _main_dir(self) -> str:
        return next(iter(self.dirs.values()))

    def is_empty(self) -> bool:
        return not self.pids()

    def exists(self) -> bool:
        return os.path.isdir(self._main_dir)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to every process of the job (a setsid one too)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def kill(self) -> None:
        raise NotImplementedError

    def oom_kills(self) -> int:
        raise NotImplementedError

    def usage(self) -> Usage:
        raise NotImplementedError

    def remove(self) -> bool:
        """Remove the directories once empty; False when something still runs in them."""
        removed = True
        for directory in self.dirs.values():
            try:
                os.rmdir(directory)
            except FileNotFoundError:
                continue
            except OSError:
                removed = False
        return removed


class V2Cgroup(JobCgroup):
    kind = "cgroup2"

    def kill(self) -> None:
        """``cgroup.kill`` (Linux 5.14+): every process, at once, with no race against forks."""
        directory = self._main_dir
        try:
            _write(os.path.join(directory, "cgroup.kill"), "1")
            return
        except OSError:
            pass
        _write(os.path.join(directory, "cgroup.freeze"), "1")  # older kernels: freeze first
        self.signal(signal.SIGKILL)
        _write(os.path.join(directory, "cgroup.freeze"), "0")

    def is_empty(self) -> bool:
        events = _read_keyed(os.path.join(self._main_dir, "cgroup.events"))
        if "populated" in events:
            return events["populated"] == 0
        return super().is_empty()

    def oom_kills(self) -> int:
        return _read_keyed(os.path.join(self._main_dir, "memory.events")).get("oom_kill", 0)

    def usage(self) -> Usage:
        stat = _read_keyed(os.path.join(self._main_dir, "cpu.stat"))
        peak = _read_int(os.path.join(self._main_dir, "memory.peak"))
        user, system = stat.get("user_usec"), stat.get("system_usec")
        return Usage(peak, None if user is None else user / 1e6,
                     None if system is None else system / 1e6)  # fmt: skip


class V1Cgroup(JobCgroup):
    kind = "cgroup1"

    @property
    def _main_dir(self) -> str:
        return self.dirs.get("freezer") or next(iter(self.dirs.values()))

    def kill(self) -> None:
        """Freeze (so nothing forks meanwhile), SIGKILL every process, thaw (so they die)."""
        freezer = self.dirs.get("freezer")
        if freezer:
            state = os.path.join(freezer, "freezer.state")
            with contextlib.suppress(OSError):
                _write(state, "FROZEN")
                deadline = time.monotonic() + 1.0
                while _read_text(state) == "FREEZING" and time.monotonic() < deadline:
                    time.sleep(0.001)
        self.signal(signal.SIGKILL)
        if freezer:
            with contextlib.suppress(OSError):
                _write(os.path.join(freezer, "freezer.state"), "THAWED")

    def oom_kills(self) -> int:
        memory = self.dirs.get("memory")
        if not memory:
            return 0
        return _read_keyed(os.path.join(memory, "memory.oom_control")).get("oom_kill", 0)

    def usage(self) -> Usage:
        memory, cpuacct = self.dirs.get("memory"), self.dirs.get("cpuacct")
        peak = _read_int(os.path.join(memory, "memory.max_usage_in_bytes")) if memory else None
        user = system = None
        if cpuacct:
            stat = _read_keyed(os.path.join(cpuacct, "cpuacct.stat"))
            if "user" in stat:
                user, system = stat["user"] / _USER_HZ, stat.get("system", 0) / _USER_HZ
        return Usage(peak, user, system)


class Containment:
    """Where this node's job cgroups live and how to make one."""

    def __init__(self, kind: str, parents: dict[str, str]) -> None:
        self.kind = kind  # "cgroup2" or "cgroup1"
        self.parents = parents  # controller ("" on v2) -> this daemon's scns directory
        self._parent_mems: str | None = None

    @property
    def pins_cpus(self) -> bool:
        """Whether a job's cgroup holds it to its cores (a cpuset): joining it sets the
        affinity of whatever joins, so the wrapper needs no sched_setaffinity of its own."""
        return self.kind == "cgroup2" or "cpuset" in self.parents

    def job(self, name: str) -> JobCgroup:
        """The (maybe existing) cgroup of a job, by name (node and job id); on v1 only the
        hierarchies it was made in, once it exists."""
        dirs = {ctrl: os.path.join(parent, name) for ctrl, parent in self.parents.items()}
        if self.kind == "cgroup1" and os.path.isdir(dirs.get("freezer", "")):
            dirs = {ctrl: d for ctrl, d in dirs.items() if os.path.isdir(d)}
        return V2Cgroup(dirs) if self.kind == "cgroup2" else V1Cgroup(dirs)

    def close(self) -> None:
        """Remove this node's directories if no job cgroup is left in them."""
        for parent in self.parents.values():
            with contextlib.suppress(OSError):
                os.rmdir(parent)

    def names(self) -> list[str]:
        """The job cgroups that exist under this node's directory."""
        main = self.parents.get("freezer") or next(iter(self.parents.values()))
        try:
            return sorted(e.name for e in os.scandir(main) if e.is_dir(follow_symlinks=False))
        except OSError:
            return []

    def create(self, name: str, cpu_ids: list[int], mem_bytes: int | None,
               pids_max: int | None) -> JobCgroup:  # fmt: skip
        """A fresh cgroup for one run of a job, limits set; OSError when it cannot be made."""
        group = self.job(name)
        if group.exists():  # a stale one from a daemon that died: empty it first
            group.kill()
            group.remove()
        if not pids_max and self.kind == "cgroup1":  # one hierarchy less to make and join
            group.dirs.pop("pids", None)
        for ctrl, directory in group.dirs.items():
            os.mkdir(directory, 0o755)
            if ctrl in ("", "cpuset") and cpu_ids:
                if self.kind == "cgroup1":
                    _write(os.path.join(directory, "cpuset.mems"), self._mems(ctrl))
                _write(os.path.join(directory, "cpuset.cpus"), ",".join(map(str, cpu_ids)))
            if ctrl in ("", "memory") and mem_bytes:
                self._limit_memory(directory, mem_bytes)
            if ctrl in ("", "pids") and pids_max:
                with contextlib.suppress(FileNotFoundError):
                    _write(os.path.join(directory, "pids.max"), str(pids_max))
        return group

    def _mems(self, ctrl: str) -> str:
        """The memory nodes a v1 cpuset child must be given: its parent's (read once)."""
        mems = self._parent_mems
        if mems is None:
            mems = self._parent_mems = _read_text(os.path.join(self.parents[ctrl], "cpuset.mems"))
        return mems

    def _limit_memory(self, directory: str, mem_bytes: int) -> None:
        if self.kind == "cgroup2":
            _write(os.path.join(directory, "memory.max"), str(mem_bytes))
            with contextlib.suppress(OSError):  # swap counts against --mem, as on Slurm
                _write(os.path.join(directory, "memory.swap.max"), "0")
            return
        _write(os.path.join(directory, "memory.limit_in_bytes"), str(mem_bytes))
        with contextlib.suppress(OSError):  # where the host accounts swap
            _write(os.path.join(directory, "memory.memsw.limit_in_bytes"), str(mem_bytes))


def detect(node: str) -> Containment | None:
    """This daemon's containment: v2 if the host runs it with the controllers we need, else
    v1, else None. The job cgroups go under ``scns-<node>`` beside this daemon's own cgroup."""
    for attempt in (_detect_v2, _detect_v1):
        try:
            found = attempt(node)
        except OSError:
            found = None
        if found is not None:
            return found
    return None


def _own_paths() -> dict[str, str]:
    """controller -> this process's cgroup path ("" is the v2 hierarchy)."""
    paths: dict[str, str] = {}
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            _hier, controllers, path = line.rstrip("\n").split(":", 2)
            for ctrl in controllers.split(","):
                paths[ctrl] = path
    return paths


def _detect_v2(node: str) -> Containment | None:
    controllers = _read_text(os.path.join(ROOT, "cgroup.controllers")).split()
    if not {"memory", "cpuset", "pids"} <= set(controllers):
        return None
    own = os.path.join(ROOT, _own_paths().get("", "/").lstrip("/"))
    # cgroup v2 lets only leaves hold processes: jobs go in a sibling tree of the daemon's
    # leaf, under its parent, which must delegate the controllers to its children.
    parent = os.path.dirname(own) if own != ROOT else ROOT
    wanted = [c for c in ("cpuset", "memory", "pids", "cpu") if c in controllers]
    _write(os.path.join(parent, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted))
    base = os.path.join(parent, f"{_PREFIX}-{node}")
    _make_dir(base)
    _write(os.path.join(base, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted))
    return Containment("cgroup2", {"": base})


def _detect_v1(node: str) -> Containment | None:
    own = _own_paths()
    parents: dict[str, str] = {}
    for ctrl in V1_CONTROLLERS:
        mount = os.path.join(ROOT, ctrl)
        if not os.path.isfile(os.path.join(mount, "cgroup.procs")):
            if ctrl in ("freezer", "memory"):
                return None  # without these a job can be neither killed whole nor limited
            continue
        parent = os.path.join(mount, own.get(ctrl, "/").lstrip("/"))
        base = os.path.join(parent, f"{_PREFIX}-{node}")
        _make_dir(base)
        if ctrl == "cpuset":
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not _read_text(os.path.join(base, name)):
                    _copy(parent, base, name)
        parents[ctrl] = base
    probe = os.path.join(parents["freezer"], "cgroup.procs")
    if not os.access(probe, os.W_OK):
        return None
    return Containment("cgroup1", parents)


def _make_dir(path: str) -> None:
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o755)


def _copy(source_dir: str, target_dir: str, name: str) -> None:
    _write(os.path.join(target_dir, name), _read_text(os.path.join(source_dir, name)))


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _read_text(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _read_int(path: str) -> int | None:
    text = _read_text(path)
    return int(text) if text.isdigit() else None


def _read_keyed(path: str) -> dict[str, int]:
    """``key value`` lines (memory.events, cpu.stat, memory.oom_control, cpuacct.stat)."""
    found = {}
    for line in _read_text(path).splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            found[key] = int(value)
    return found
