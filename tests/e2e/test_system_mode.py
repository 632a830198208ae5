"""Several users on one machine: a root ``scns daemon --system``, throwaway unix users.

Every test runs against one system daemon on SQLite and against two (n1, n2) on PostgreSQL
+ Redis. Users reach the daemons only through their sockets; identity comes from the
kernel, rights from ownership and the operators setting.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from scns import protocol
from tests.conftest import wait_until
from tests.e2e.system import System, make_system, remove_system
from tests.e2e.users import Accounts, require_root


@pytest.fixture(scope="module")
def people() -> Iterator[SimpleNamespace]:
    """alice (in group share), bob, and carol (an operator through group ops)."""
    require_root()
    base = tempfile.mkdtemp(prefix="scns-u-", dir="/tmp")
    os.chmod(base, 0o755)
    accounts = Accounts(base)
    try:
        accounts.let_users_run_python()
        ops, share = accounts.group("ops"), accounts.group("share")
        yield SimpleNamespace(
            alice=accounts.user("a", groups=(share,)),
            bob=accounts.user("b"),
            carol=accounts.user("c", groups=(ops,)),
            ops=ops,
            share=share,
        )
    finally:
        accounts.remove()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def system(request, people) -> Iterator[System]:
    env: dict[str, str] = {"SCNS_MAX_ARRAY_SIZE": "50", "SCNS_MAX_JOBS_PER_USER": "20"}
    nodes = ["n1"]
    if request.param == "postgresql":
        env.update(SCNS_DATABASE_URL=request.getfixturevalue("pg_url"),
                   SCNS_REDIS_URL=request.getfixturevalue("redis_url"),
                   SCNS_HEARTBEAT_INTERVAL_S="1", SCNS_LEADER_LEASE_S="3")  # fmt: skip
        nodes = ["n1", "n2"]
    sys_ = make_system(env, nodes, operators=f"@{people.ops}")
    try:
        sys_.start()
        yield sys_
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            print(f"---- daemon logs ----\n{sys_.logs()[-20000:]}")
        remove_system(sys_)


def _script(user, name: str, body: str) -> str:
    path = os.path.join(user.home, name)
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\n" + body)
    os.chown(path, user.uid, user.gid)
    os.chmod(path, 0o700)
    return path


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


# ---- identity ------------------------------------------------------------------------------


def test_jobs_run_as_their_submitter(system: System, people) -> None:
    alice = people.alice
    script = _script(alice, "who.sh", 'id -u; id -g; id -G; umask; echo "$HOME $USER $LOGNAME"\n'
                     "touch made-here\n")  # fmt: skip
    job = system.submit(alice, "-o", "who.out", script, umask=0o027)
    info = system.wait_state(alice, job, "COMPLETED", "FAILED")
    assert info["state"] == "COMPLETED", info
    uid, gid, groups, umask, names = _read(os.path.join(alice.home, "who.out")).splitlines()
    assert (int(uid), int(gid)) == (alice.uid, alice.gid)
    assert sorted(int(g) for g in groups.split()) == sorted(alice.groups)
    assert len(alice.groups) == 2  # its own group and the supplementary one
    assert int(umask, 8) == 0o027
    assert names == f"{alice.home} {alice.name} {alice.name}"
    made = os.stat(os.path.join(alice.home, "made-here"))  # chdir happened, as alice
    assert (made.st_uid, stat.S_IMODE(made.st_mode)) == (alice.uid, 0o640)
    assert info["user"] == alice.name


def test_identity_comes_from_the_kernel_not_the_client(system: System, people) -> None:
    """A patched client claiming root (in every field it could send) gets its own uid."""
    alice = people.alice
    script = _script(alice, "claim.sh", "id -u\n")
    forged = (
        "import os, socket, sys\n"
        "from scns import protocol\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "args = {'args': ['-o', 'claim.out', sys.argv[2]], 'script': open(sys.argv[2]).read(),"
        " 'cwd': os.getcwd(), 'env': {'USER': 'root', 'HOME': '/root', 'LOGNAME': 'root'},"
        " 'umask': 18, 'uid': 0, 'gid': 0, 'user': 'root', 'user_name': 'root'}\n"
        "s.sendall(protocol.request_line('submit', args)); s.shutdown(socket.SHUT_WR)\n"
        "print(protocol.parse_response(s.recv(65536))['job_id'])\n"
    )
    proc = alice.run([os.sys.executable, "-c", forged, system.sockets[0], script],
                     env=system.user_env(alice))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    job = int(proc.stdout.strip())
    info = system.wait_state(alice, job, "COMPLETED", "FAILED")
    assert info["state"] == "COMPLETED" and info["user"] == alice.name
    assert _read(os.path.join(alice.home, "claim.out")).strip() == str(alice.uid)
    assert system.sql("SELECT uid, gid FROM jobs WHERE id = ?", (job,)) == [(alice.uid,
                                                                            alice.gid)]  # fmt: skip


def test_the_working_directory_is_entered_as_the_user(system: System, people) -> None:
    """A client naming a directory its user cannot enter: the job fails with the reason
    (chdir happens after privileges are dropped), it never runs there as root."""
    alice, bob = people.alice, people.bob
    out = os.path.join(alice.home, "cd.out")
    sneaky = (
        "import socket, sys\n"
        "from scns import protocol\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "args = {'args': ['-o', sys.argv[3], '--wrap', 'touch planted'], 'cwd': sys.argv[2],"
        " 'env': {}, 'umask': 18}\n"
        "s.sendall(protocol.request_line('submit', args)); s.shutdown(socket.SHUT_WR)\n"
        "print(protocol.parse_response(s.recv(65536))['job_id'])\n"
    )
    proc = alice.run([os.sys.executable, "-c", sneaky, system.sockets[0], bob.home, out],
                     env=system.user_env(alice))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    info = system.wait_state(alice, int(proc.stdout), "COMPLETED", "FAILED")
    assert info["state"] == "FAILED"
    assert "cannot enter working directory" in info["reason"], info
    assert "permission denied" in info["reason"]
    assert not os.path.exists(os.path.join(bob.home, "planted"))


def test_a_job_cannot_kill_its_supervisor(system: System, people) -> None:
    """``kill -9 $PPID`` from a job: the supervisor is root's, the job goes on and ends
    with its own status."""
    alice = people.alice
    job = system.submit(alice, "-o", "ppid.out", "--wrap",
                        'kill -9 $PPID; echo "kill=$?"; exit 3')  # fmt: skip
    info = system.wait_state(alice, job, "COMPLETED", "FAILED")
    assert (info["state"], info["exit_code"]) == ("FAILED", 3), info
    assert "kill=1" in _read(os.path.join(alice.home, "ppid.out"))


def _cmdline(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:
        return []


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        data = handle.read()
    return int(data[data.rindex(b")") + 2 :].split()[1])


def test_another_users_job_outlives_its_daemon_and_launcher(system: System, people) -> None:
    """The job of another user runs under a root supervisor forked by the node's launcher:
    its environment never shows on a command line, and killing both the daemon and the
    launcher neither stops it nor loses its status; a new daemon adopts it and starts the
    next job of that user with a new launcher."""
    alice = people.alice
    gate, began = os.path.join(alice.home, "gate"), os.path.join(alice.home, "began")
    for path in (gate, began):
        with contextlib.suppress(FileNotFoundError):  # the other backend's run left it
            os.unlink(path)
    job = system.submit(alice, "-o", "outlive.out", "--export=ALL,SCNS_T_SECRET=hush-4711",
                        "--wrap", f'touch {began}; while [ ! -e {gate} ]; do sleep 0.05; done;'
                        ' echo "secret=$SCNS_T_SECRET"; exit 7')  # fmt: skip
    system.wait_state(alice, job, "RUNNING")
    wait_until(lambda: os.path.exists(began), 20, 0.02, "the script to run")
    ((supervisor,),) = system.sql("SELECT pid FROM jobs WHERE id = ?", (job,))
    argv = _cmdline(supervisor)
    assert b"scns-launcher" in argv, argv  # forked by the launcher, not a shell
    with open(f"/proc/{supervisor}/status") as handle:
        uids = next(line for line in handle if line.startswith("Uid:")).split()[1:]
    assert uids == ["0", "0", "0", "0"]  # root's: the job's user can neither signal nor trace it
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            assert b"hush-4711" not in b" ".join(_cmdline(int(entry))), entry
    launcher = _parent(supervisor)
    assert b"scns-launcher" in _cmdline(launcher)
    with open(f"/proc/{supervisor}/task/{supervisor}/children") as handle:
        (job_side,) = [int(p) for p in handle.read().split()]
    with open(f"/proc/{job_side}/status") as handle:
        uids = next(line for line in handle if line.startswith("Uid:")).split()[1:]
    assert uids == [str(alice.uid)] * 4  # dropped for good: real, effective, saved, fs
    with open(f"/proc/{job_side}/cgroup") as handle:
        memberships = handle.read()
    if system.sql("SELECT containment FROM nodes")[0][0] != "process-group":
        assert f"/job{job}\n" in memberships, memberships  # joined before it dropped
    for daemon in system.daemons:
        daemon.kill()
        daemon.wait()
    with contextlib.suppress(ProcessLookupError):  # it may have left on its own (EOF)
        os.kill(launcher, signal.SIGKILL)
    with open(gate, "w"):
        pass
    system.stop()
    system.start()
    info = system.wait_state(alice, job, "COMPLETED", "FAILED")
    assert (info["state"], info["exit_code"]) == ("FAILED", 7), info
    assert _read(os.path.join(alice.home, "outlive.out")) == "secret=hush-4711\n"
    after = system.submit(alice, "--wrap", "true")
    assert system.wait_state(alice, after, "COMPLETED", "FAILED")["state"] == "COMPLETED"


# ---- rights --------------------------------------------------------------------------------


def test_other_users_cannot_change_a_job(system: System, people) -> None:
    alice, bob, carol = people.alice, people.bob, people.carol
    job = system.submit(alice, "-H", "--wrap", "true")
    before = system.sql("SELECT state, held, priority, nice, time_limit_s, cancel_requested"
                        " FROM jobs WHERE id = ?", (job,))  # fmt: skip
    for args in (
        ("cancel", str(job)),
        ("hold", str(job)),
        ("release", str(job)),
        ("update", str(job), "--time", "5"),
        ("update", str(job), "--nice", "5"),
    ):
        proc = system.cli(bob, *args, sock=1)
        assert proc.returncode != 0, args
        assert proc.stderr.strip().endswith(f"job {job} is not yours"), proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stdout == ""
    assert system.sql("SELECT state, held, priority, nice, time_limit_s, cancel_requested"
                      " FROM jobs WHERE id = ?", (job,)) == before  # fmt: skip
    # its owner and an operator may
    system.cli(carol, "update", str(job), "--time", "5", check=True)
    system.cli(alice, "update", str(job), "--nice", "5", check=True)
    assert system.query(alice, job)["time_limit"] == 300
    system.cli(carol, "release", str(job), check=True)
    assert system.wait_state(alice, job, "COMPLETED")["state"] == "COMPLETED"
    other = system.submit(alice, "-H", "--wrap", "true")
    system.cli(alice, "cancel", str(other), check=True)
    assert system.query(alice, other)["state"] == "CANCELLED"


def test_a_running_job_is_cancelled_by_its_owner_only(system: System, people) -> None:
    alice, bob = people.alice, people.bob
    job = system.submit(alice, "--wrap", "sleep 300")
    system.wait_state(alice, job, "RUNNING")
    proc = system.cli(bob, "cancel", str(job))
    assert proc.returncode != 0 and f"job {job} is not yours" in proc.stderr
    assert system.query(alice, job)["state"] == "RUNNING"
    system.cli(alice, "cancel", str(job), sock=1, check=True)  # through either daemon
    assert system.wait_state(alice, job, "CANCELLED")["state"] == "CANCELLED"


def test_other_users_cannot_read_a_job(system: System, people) -> None:
    alice, bob = people.alice, people.bob
    job = system.submit(alice, "-o", "secret.out", "--wrap", "echo SECRET=hunter2")
    system.wait_state(alice, job, "COMPLETED")
    mine = system.cli(alice, "query", str(job), check=True).stdout
    assert "SECRET=hunter2" in mine and "secret.out" in mine
    theirs = system.query(bob, job, sock=1)
    assert theirs["state"] == "COMPLETED" and theirs["user"] == alice.name
    assert theirs["stdout_path"] is None and theirs["workdir"] is None
    text = system.cli(bob, "query", str(job)).stdout
    assert "hunter2" not in text and "secret.out" not in text
    listing = system.cli(bob, "queue", "--all", "--json", check=True).stdout
    assert "secret.out" not in listing and str(job) in listing
    # nor through the file system: not the output, not the state directory or database
    for path in (os.path.join(alice.home, "secret.out"), os.path.join(system.home, "scns.db")):
        proc = bob.run(["cat", path], env=system.user_env(bob))
        assert proc.returncode != 0 and "hunter2" not in proc.stdout
    assert stat.S_IMODE(os.stat(system.home).st_mode) == 0o700
    assert os.stat(system.home).st_uid == 0


def test_private_data_hides_other_users_jobs(system: System, people) -> None:
    alice, bob, carol = people.alice, people.bob, people.carol
    system.restart(SCNS_PRIVATE_DATA="true")
    job = system.submit(alice, "-H", "--wrap", "true")
    other = system.submit(bob, "-H", "--wrap", "true")
    listing = system.cli(bob, "queue", "--json", check=True).stdout
    assert f'"job_id": {other}' in listing and f'"job_id": {job}' not in listing
    table = system.cli(bob, "queue", check=True).stdout
    assert [line.split()[0] for line in table.splitlines()[1:]] == [str(other)]
    proc = system.cli(bob, "query", str(job))
    assert proc.returncode != 0 and "no such job" in proc.stderr
    operator = system.cli(carol, "queue", "--json", check=True).stdout
    assert f'"job_id": {job}' in operator and f'"job_id": {other}' in operator


def test_priority_is_for_operators(system: System, people) -> None:
    bob, carol = people.bob, people.carol
    for args in (("--priority", "5"), ("--nice=-5",)):
        proc = system.cli(bob, "submit", *args, "-H", "--wrap", "true")
        assert proc.returncode != 0 and proc.stderr.count("\n") == 1, proc.stderr
        assert "only operators" in proc.stderr
    job = system.submit(bob, "-H", "--wrap", "true")
    proc = system.cli(bob, "update", str(job), "--priority", "10")
    assert proc.returncode != 0 and "only operators" in proc.stderr
    assert system.query(bob, job)["priority"] == 0
    system.cli(bob, "update", str(job), "--nice", "10", check=True)  # lowering is anyone's
    system.cli(carol, "update", str(job), "--priority", "100", check=True)
    assert system.query(bob, job)["priority"] == 100
    proc = system.cli(bob, "update", str(job), "--priority", "50")  # lowering: allowed
    assert proc.returncode == 0, proc.stderr
    assert system.query(bob, system.submit(carol, "--priority", "7", "-H", "--wrap",
                                           "true"))["priority"] == 7  # fmt: skip


def test_limits_are_refused_in_one_line(system: System, people) -> None:
    alice, bob = people.alice, people.bob
    proc = system.cli(alice, "submit", "-a", "0-50", "-H", "--wrap", "true")
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1
    assert "max_array_size 50" in proc.stderr
    system.submit(alice, "-a", "0-19", "-H", "--wrap", "true")  # 20 jobs: at the limit
    proc = system.cli(alice, "submit", "-H", "--wrap", "true")
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1
    assert "max_jobs_per_user 20" in proc.stderr
    system.submit(bob, "-H", "--wrap", "true")  # another user's count is their own


# ---- nothing forgeable, nothing followed ---------------------------------------------------


def test_planted_links_and_directories_are_neither_followed_nor_blocking(
    system: System, people
) -> None:
    alice, bob = people.alice, people.bob
    status_dir = os.path.join(system.home, "run", "status", system.nodes[0])
    scripts_dir = os.path.join(system.home, "run", "scripts", system.nodes[0])
    for directory in (status_dir, scripts_dir, os.path.join(system.home, "run")):
        assert stat.S_IMODE(os.lstat(directory).st_mode) == 0o700
    proc = bob.run(["ln", "-s", "/etc/passwd", os.path.join(status_dir, "999")],
                   env=system.user_env(bob))  # fmt: skip
    assert proc.returncode != 0  # users cannot plant anything there
    victim = os.path.join(tempfile.mkdtemp(prefix="scns-victim-", dir="/tmp"), "precious")
    with open(victim, "w") as handle:
        handle.write("precious\n")
    first = system.submit(alice, "-H", "--wrap", "true")
    for node in system.nodes:  # what an older, world-writable install could have held
        status = os.path.join(system.home, "run", "status", node)
        scripts = os.path.join(system.home, "run", "scripts", node)
        os.symlink(victim, os.path.join(status, str(first + 1)))
        os.symlink(victim, os.path.join(status, f"{first + 1}.why"))
        os.symlink(victim, os.path.join(scripts, str(first + 1)))
        os.makedirs(os.path.join(status, str(first + 2)))
        os.makedirs(os.path.join(scripts, str(first + 2)))
    jobs = [system.submit(alice, "--wrap", "echo ran"), system.submit(alice, "--wrap", "true")]
    assert jobs == [first + 1, first + 2]
    for job in jobs:
        assert system.wait_state(alice, job, "COMPLETED", "FAILED")["state"] == "COMPLETED"
    assert _read(victim) == "precious\n"
    shutil.rmtree(os.path.dirname(victim))


def test_root_cleanup_deletes_only_the_jobs_own_files(system: System, people) -> None:
    alice = people.alice
    keep = os.path.join(tempfile.mkdtemp(prefix="scns-keep-", dir="/tmp"), "roots-file")
    with open(keep, "w") as handle:
        handle.write("root's\n")
    tag = os.path.basename(system.home)  # alice's home is shared by both backends' runs
    plain = system.submit(alice, "-o", f"plain-{tag}.out", "--wrap", "echo x")
    swapped = system.submit(alice, "-o", f"swapped-{tag}.out", "--wrap", "echo y")
    for job in (plain, swapped):
        system.wait_state(alice, job, "COMPLETED")
    swapped_path = os.path.join(alice.home, f"swapped-{tag}.out")
    alice.run(["sh", "-c", f"rm {swapped_path} && ln -s {keep} {swapped_path}"],
              env=system.user_env(alice))  # fmt: skip
    assert os.path.islink(swapped_path)

    def purged() -> bool:
        proc = system.admin("cleanup", "--purge-after", "1s", "--purge-logs")
        assert proc.returncode == 0, proc.stderr
        return not system.sql("SELECT id FROM jobs WHERE id IN (?, ?)", (plain, swapped))

    wait_until(purged, 30, 0.5, "the finished jobs to be purged")
    assert not os.path.exists(os.path.join(alice.home, f"plain-{tag}.out"))
    assert os.path.islink(swapped_path) and _read(keep) == "root's\n"
    shutil.rmtree(os.path.dirname(keep))


def test_query_of_dev_zero_and_fifo_outputs_returns_promptly(system: System, people) -> None:
    alice = people.alice
    zero = system.submit(alice, "-o", "/dev/zero", "--wrap", "echo hi")
    assert system.wait_state(alice, zero, "COMPLETED", "FAILED")["state"] == "COMPLETED"
    proc = system.cli(alice, "query", str(zero))
    assert proc.returncode == 0 and "JobState=COMPLETED" in proc.stdout
    name = f"pipe-{os.path.basename(system.home)}.out"  # a FIFO stays in the shared home
    job = system.submit(alice, "-o", name, "--wrap", "echo hi")
    system.wait_state(alice, job, "COMPLETED")
    path = os.path.join(alice.home, name)
    alice.run(["sh", "-c", f"rm {path} && mkfifo {path}"], env=system.user_env(alice))
    assert stat.S_ISFIFO(os.lstat(path).st_mode)
    proc = system.cli(alice, "query", str(job))  # a blocking open would hang past the timeout
    assert proc.returncode == 0 and "JobState=COMPLETED" in proc.stdout


# ---- the socket ----------------------------------------------------------------------------


def test_a_socket_without_a_daemon_is_one_line_and_no_fallback(system: System, people) -> None:
    bob = people.bob
    missing = os.path.join(os.path.dirname(system.sockets[0]), "nobody.sock")
    env = {**system.user_env(bob), "SCNS_SOCKET": missing}
    for args in (("submit", "--wrap", "true"), ("queue",), ("query", "1"), ("cancel", "1"),
                 ("info",), ("health",)):  # fmt: skip
        proc = bob.run([os.sys.executable, "-m", "scns", *args], env=env)
        assert proc.returncode != 0, args
        assert proc.stderr.strip().endswith(f"no scns daemon at {missing}"), proc.stderr
        assert proc.stderr.count("\n") == 1
    assert not os.path.exists(os.path.join(bob.home, ".local"))  # no personal database


def test_protocol_refuses_bad_requests_in_one_line(system: System, people) -> None:
    bob = people.bob
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "data = sys.stdin.buffer.read()\n"
        "try:\n"
        "    s.sendall(data); s.shutdown(socket.SHUT_WR)\n"
        "except OSError:\n"
        "    pass\n"
        "print(s.recv(65536).decode())\n"
    )
    cases = {
        b'{"v": 99, "op": "queue", "args": {}}\n': "protocol version",
        b'{"v": 1, "op": "os.system", "args": {}}\n': "unknown request",
        b"not json\n": "malformed",
        b'{"v": 1, "op": "cancel", "args": {"job_ids": [1, 2]}}\n': "list of strings",
        b"x" * (protocol.MAX_REQUEST_BYTES + 10): "larger than",
    }
    for data, expected in cases.items():
        proc = subprocess.run([os.sys.executable, "-c", probe, system.sockets[0]], input=data,
                              capture_output=True, user=bob.uid, group=bob.gid, timeout=60,
                              env=system.user_env(bob))  # fmt: skip
        assert expected in proc.stdout.decode(), (expected, proc.stdout, proc.stderr)
    assert system.cli(bob, "health").returncode == 0  # and the daemon serves on


def test_system_mode_needs_root(system: System, people) -> None:
    bob = people.bob
    proc = bob.run([os.sys.executable, "-m", "scns", "daemon", "--system"],
                   env={**system.user_env(bob), "SCNS_SOCKET": ""})  # fmt: skip
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1
    assert "must run as root" in proc.stderr
