"""The node's launcher (``scns/exec/launcher.py``) on its own: the supervisors it forks for
jobs of another user, how a restarted daemon recognises them, and what they record.

Runs as root against the ``nobody`` account, with real processes and no daemon.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import tempfile
from collections.abc import Iterator

import pytest

from scns.exec import process
from scns.exec.process import ExitStatus, LaunchSpec, StartFailure
from tests.conftest import wait_until
from tests.e2e.users import require_root


@pytest.fixture
def place() -> Iterator[dict]:
    require_root()
    nobody = pwd.getpwnam("nobody")
    base = tempfile.mkdtemp(prefix="scns-launch-", dir="/tmp")
    os.chmod(base, 0o755)
    status_dir = os.path.join(base, "status")
    scripts = os.path.join(base, "scripts")  # root's alone, as the daemon's state directory
    work = os.path.join(base, "work")
    for directory, mode in ((status_dir, 0o700), (scripts, 0o700), (work, 0o755)):
        os.mkdir(directory, mode)
    os.chown(work, nobody.pw_uid, nobody.pw_gid)
    launcher = process.Launcher(status_dir)
    try:
        yield {"base": base, "status": status_dir, "scripts": scripts, "work": work,
               "uid": nobody.pw_uid, "gid": nobody.pw_gid, "launcher": launcher}  # fmt: skip
    finally:
        launcher.close()
        shutil.rmtree(base, ignore_errors=True)


def _spec(place: dict, job_id: int, body: str, **changes) -> LaunchSpec:
    script = os.path.join(place["scripts"], str(job_id))
    with open(script, "w") as handle:
        handle.write("#!/bin/sh\n" + body)
    os.chmod(script, 0o700)
    os.chown(script, place["uid"], place["gid"])
    fields = dict(job_id=job_id, script_path=script, argv=["first arg"], workdir=place["work"],
                  env={"PATH": "/usr/bin:/bin", "SCNS_T": "caf\udce9"},
                  stdout_path=os.path.join(place["work"], f"{job_id}.out"),
                  stderr_path=os.path.join(place["work"], f"{job_id}.out"), cpu_ids=(),
                  status_path=os.path.join(place["status"], str(job_id)), uid=place["uid"],
                  gid=place["gid"], groups=(place["gid"],), umask=0o027)  # fmt: skip
    fields.update(changes)
    return LaunchSpec(**fields)


def _record(spec: LaunchSpec):
    return wait_until(lambda: process.read_status(spec.status_path), 20, 0.02, "the record")


def test_a_forked_supervisor_runs_the_job_as_its_user(place) -> None:
    spec = _spec(place, 1, 'id -u; id -g; umask; pwd; echo "$0 $1"; printf "%s\\n" "$SCNS_T"'
                           "\nexit 5\n")  # fmt: skip
    started = place["launcher"].spawn(spec)
    assert started.popen is None  # forked by the launcher, not a shell
    started.go()
    assert _record(spec) == ExitStatus.from_shell_rc(5)
    with open(spec.stdout_path, "rb") as handle:
        lines = handle.read().split(b"\n")
    assert lines[:5] == [str(place["uid"]).encode(), str(place["gid"]).encode(), b"0027",
                         place["work"].encode(), b"/dev/fd/4 first arg"]  # fmt: skip
    assert lines[5] == b"caf\xe9"  # the environment's bytes, as the submitter had them
    info = os.stat(spec.stdout_path)
    assert (info.st_uid, info.st_mode & 0o777) == (place["uid"], 0o640)


def test_a_restarted_daemon_recognises_the_supervisor(place) -> None:
    """find_wrappers and is_job_supervisor know a forked supervisor by the record it holds
    open, a shell one by its argv; a reused pid or another job's path is not it."""
    spec = _spec(place, 2, "sleep 30\n")
    started = place["launcher"].spawn(spec)
    started.go()
    pid, ticks = started.pid, started.start_ticks
    wait_until(lambda: process.children_of(pid), 10, 0.02, "the job side")
    assert process.find_wrappers(place["status"]) == {2: pid}
    assert process.is_job_supervisor(pid, ticks, spec.status_path)
    assert not process.is_job_supervisor(pid, ticks, os.path.join(place["status"], "3"))
    assert not process.is_job_supervisor(pid, (ticks or 0) + 1, spec.status_path)
    assert not process.is_job_supervisor(pid, ticks, os.path.join(place["base"], "2"))
    (job_pid,) = process.children_of(pid)
    os.kill(job_pid, signal.SIGKILL)  # the job dies; its supervisor records how
    assert _record(spec) == ExitStatus.from_shell_rc(128 + signal.SIGKILL)
    wait_until(lambda: not process.is_alive(pid, ticks), 10, 0.02, "the supervisor's end")
    assert process.find_wrappers(place["status"]) == {}


def test_a_start_that_is_not_let_go_never_runs(place) -> None:
    spec = _spec(place, 4, f"touch {place['work']}/ran\n")
    place["launcher"].spawn(spec).abort()
    assert _record(spec) == "aborted"
    assert not os.path.exists(os.path.join(place["work"], "ran"))


def test_what_stops_the_job_side_is_the_record(place) -> None:
    locked = os.path.join(place["base"], "locked")  # root's: nobody cannot create files here
    os.mkdir(locked, 0o755)
    spec = _spec(place, 5, "true\n", stdout_path=os.path.join(locked, "out"))
    place["launcher"].spawn(spec).go()
    assert _record(spec) == StartFailure(f"cannot open output file {locked}/out: Permission denied")
    spec = _spec(place, 6, "true\n", workdir=os.path.join(place["base"], "status"))
    place["launcher"].spawn(spec).go()
    assert _record(spec) == StartFailure(
        f"cannot enter working directory {place['status']}: permission denied"
    )
    spec = _spec(place, 7, "true\n", cpu_ids=(4096,))
    place["launcher"].spawn(spec).go()
    failure = _record(spec)
    assert isinstance(failure, StartFailure) and "cannot pin the job to cpus" in failure


def test_a_launcher_that_died_is_started_again(place) -> None:
    launcher = place["launcher"]
    first = _spec(place, 8, "exit 0\n")
    launcher.spawn(first).go()
    assert _record(first) == ExitStatus.from_shell_rc(0)
    old = launcher.popen.pid
    os.kill(old, signal.SIGKILL)
    launcher.popen.wait()
    second = _spec(place, 9, "exit 3\n")
    launcher.spawn(second).go()
    assert _record(second) == ExitStatus.from_shell_rc(3)
    assert launcher.popen.pid != old


def test_a_big_environment_reaches_the_job_whole(place) -> None:
    """400 KB of environment (well past one socket buffer) travel to the launcher intact."""
    big = {f"SCNS_T_BIG{i}": chr(ord("a") + i % 26) * 10_000 for i in range(40)}
    spec = _spec(place, 10, 'printf "%s\\n" "${#SCNS_T_BIG7}" "$SCNS_T_BIG39"\n',
                 env={"PATH": "/usr/bin:/bin", **big})  # fmt: skip
    place["launcher"].spawn(spec).go()
    assert _record(spec) == ExitStatus.from_shell_rc(0)
    with open(spec.stdout_path) as handle:
        assert handle.read().split("\n")[:2] == ["10000", big["SCNS_T_BIG39"]]
