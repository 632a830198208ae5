"""No command prints a traceback or hangs, whatever it is given (issue 14's one error
boundary): random option words, numbers (huge ones too), invalid UTF-8 in argv, random
#SBATCH lines and random SCNS_* settings, each run through the real CLI in a subprocess on
a scratch home. Every error must be one line, with exit status 1 or 2.

Each example runs two command lines at once (the machine's two cores): 30 command lines per
command (80 for submit), and the whole file stays under about a minute.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scns.domain.options import BY_LONG

SCNS = [sys.executable, "-m", "scns"]
TIMEOUT_S = 30  # far beyond any command here: reaching it means the command hangs
SLOW = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
FAST = settings(SLOW, max_examples=40)  # submit's own parser: most lines end in ~50 ms
COMMANDS = ("submit", "queue", "query", "cancel", "hold", "release", "update", "info",
            "history", "wait", "log")  # fmt: skip


def _options(command: str) -> list[str]:
    """A command's options as its --help lists them (submit: sbatch's whole table)."""
    if command == "submit":
        return sorted({f"--{n}" for n in BY_LONG} | {f"-{o.short}" for o in BY_LONG.values()
                                                     if o.short})  # fmt: skip
    import typer

    from scns.cli.app import app

    params = typer.main.get_command(app).commands[command].params  # type: ignore[attr-defined]
    return sorted(
        {"--help"} | {o for p in params for o in (*p.opts, *p.secondary_opts) if o[:1] == "-"}
    )


HUGE = ["99999999999999999999", "-99999999999999999999", "9223372036854775808", "1e309",
        "nan", "inf", "-0", "0x10", "1_000", "18446744073709551616"]  # fmt: skip
WORDS = ["1", "2", "1_0", "2_[0-3]", "1,2", "PD,R", "CD", "all", "now", "now+1hour", "16:00",
         "2026-12-01T08:00", "1-00:00:00", "10G", "0", "afterok:1", "singleton", "0-99%4",
         "--", "-", "", " ", "%j", "%.10i %j", "JobID,State", "/dev/null", "/dev/zero",
         "/tmp", "/nonexistent/x", "fifo", "job.sh"]  # fmt: skip


def _invalid_utf8(raw: bytes) -> str:
    """Bytes as argv carries them: not UTF-8, so Python holds them surrogate-escaped."""
    return os.fsdecode(b"j" + raw.replace(b"\0", b"") + b"\xff")


numbers = st.one_of(st.integers(-(10**30), 10**30).map(str), st.sampled_from(HUGE))
text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"),
               max_size=12)  # fmt: skip
values = st.one_of(numbers, text, st.sampled_from(WORDS),
                   st.binary(max_size=6).map(_invalid_utf8))  # fmt: skip


def words(command: str) -> st.SearchStrategy[str]:
    options = _options(command)
    option = st.sampled_from(options)
    joined = st.tuples(st.sampled_from([o for o in options if o.startswith("--")]), values)
    return st.one_of(option, option, values, joined.map("=".join))


def _blocks_by_design(command: str, word: str) -> bool:
    """Words that make a command wait as asked (no daemon runs here): not what is tested."""
    if command == "log":  # -f: follow the output until the job ends
        return word.startswith("--fo") or (word[:1] == "-" and word[1:2] != "-" and "f" in word)
    if command == "submit":  # --wait: until the job ends
        return word.startswith(("--wai", "-W"))
    return False


@pytest.fixture(scope="module")
def home() -> Iterator[dict]:
    """A scratch home with two held jobs, a script and a FIFO; no daemon."""
    root = tempfile.mkdtemp(prefix="scns-fz-", dir="/tmp")
    work = os.path.join(root, "work")
    os.makedirs(work)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCNS_", "SLURM_"))}
    env.update(SCNS_HOME=root, SCNS_SOCKET="", PYTHONDONTWRITEBYTECODE="1")
    with open(os.path.join(work, "job.sh"), "w") as handle:
        handle.write("#!/bin/sh\n#SBATCH -J fuzz\ntrue\n")
    os.mkfifo(os.path.join(work, "fifo"))
    tool = {"work": work, "env": env, "n": itertools.count()}
    for proc in run(tool, [["submit", "--hold", "job.sh"]] * 2):
        assert proc.returncode == 0, proc.stderr
    try:
        yield tool
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(home: dict, argvs: list[list[str]], env: dict[str, str] | None = None) -> list:
    """The real CLI, as a user's shell runs it, each argv at once; a hang fails the test."""
    procs = [
        subprocess.Popen(
            [*SCNS, *argv],
            cwd=home["work"],
            env={**home["env"], **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for argv in argvs
    ]
    done = []
    for argv, proc in zip(argvs, procs, strict=True):
        try:
            out, err = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            for each in procs:
                if each.poll() is None:
                    os.killpg(each.pid, signal.SIGKILL)
                    each.communicate()
            pytest.fail(f"scns {argv!r} (env {env!r}) hung for {TIMEOUT_S} s")
        done.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return done


def assert_handled(procs: list, env: dict[str, str] | None = None) -> None:
    for proc in procs:
        stderr = proc.stderr.decode(errors="replace")
        where = f"scns {proc.args!r} env {env!r}"
        assert "Traceback" not in stderr, f"{where}:\n{stderr[-3000:]}"
        assert proc.returncode in (0, 1, 2), f"{where}: exit {proc.returncode}\n{stderr[-3000:]}"


@pytest.mark.parametrize("command", COMMANDS)
def test_no_argv_makes_a_traceback_or_a_hang(home, command) -> None:
    @(FAST if command == "submit" else SLOW)
    @given(st.lists(st.lists(words(command), max_size=6), min_size=2, max_size=2))
    def two_command_lines(argvs: list[list[str]]) -> None:
        lines = []
        for argv in argvs:
            line = [command, *(w for w in argv if not _blocks_by_design(command, w))]
            if command == "wait":  # the jobs here never end: give up at once
                line += ["--timeout", "0.5"]
            lines.append(line)
        assert_handled(run(home, lines))

    two_command_lines()


DIRECTIVE_OPTIONS = sorted(f"--{n}" for n in BY_LONG if n != "wait")
directive_line = st.one_of(
    st.tuples(st.sampled_from(DIRECTIVE_OPTIONS), st.sampled_from(["=", " "]), values).map(
        lambda parts: b"#SBATCH " + os.fsencode("".join(parts))
    ),
    st.binary(max_size=20).map(lambda raw: b"#SBATCH " + raw),
    st.binary(max_size=20),
)


@FAST
@given(scripts=st.lists(st.lists(directive_line, max_size=5), min_size=2, max_size=2),
       test_only=st.booleans())  # fmt: skip
def test_no_directive_makes_a_traceback_or_a_hang(home, scripts, test_only) -> None:
    lines = []
    for directives in scripts:
        path = os.path.join(home["work"], f"fuzz-{next(home['n'])}.sh")
        with open(path, "wb") as handle:
            handle.write(b"#!/bin/sh\n" + b"\n".join(directives) + b"\ntrue\n")
        lines.append(["submit", "--test-only" if test_only else "--hold", path])
    assert_handled(run(home, lines))


# Settings that point elsewhere take values from a fixed list: never a random host or home.
SETTING_NAMES = ["cpus", "mem_mb", "poll_interval_s", "heartbeat_interval_s",
                 "heartbeat_timeout_s", "kill_wait_s", "leader_lease_s", "scheduler_policy",
                 "default_time_limit_s", "max_jobs_examined", "max_time", "operators",
                 "private_data", "max_array_size", "max_jobs_per_user", "pool_size",
                 "max_overflow", "pool_pre_ping", "pool_recycle", "log_format",
                 "metrics_port", "containment", "max_pids_per_job", "node", "system"]  # fmt: skip
PLACES = [("SCNS_DATABASE_URL", v) for v in ("", "junk", "sqlite:///", "mysql://x",
                                             "sqlite:////nonexistent/dir/x.db",
                                             "postgresql://127.0.0.1:1/none")]  # fmt: skip
PLACES += [("SCNS_SOCKET", v) for v in ("/nonexistent/scns.sock", "relative.sock")]
PLACES += [("SCNS_REDIS_URL", v) for v in ("", "junk", "redis://127.0.0.1:1/0")]
setting = st.one_of(
    st.tuples(
        st.sampled_from([f"SCNS_{n.upper()}" for n in SETTING_NAMES]),
        st.one_of(values, st.sampled_from(["true", "no", "-1", "0", "1.5"])),
    ),
    st.sampled_from(PLACES),
)
SETTINGS_COMMANDS = [["queue"], ["submit", "--hold", "job.sh"], ["info"],
                     ["cleanup", "--dry-run"], ["history"], ["cancel", "1"]]  # fmt: skip


@SLOW
@given(env=st.lists(setting, min_size=1, max_size=3).map(dict),
       commands=st.lists(st.sampled_from(SETTINGS_COMMANDS), min_size=2, max_size=2))  # fmt: skip
def test_no_setting_makes_a_traceback_or_a_hang(home, env, commands) -> None:
    assert_handled(run(home, commands, env), env)
