"""The fast paths of ``query`` and ``queue`` print exactly what the typer commands print,
and every command documents itself with an example."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import Scns

TYPER = "import sys; from scns.cli.app import run; run(sys.argv[1:])"


def via_typer(scns: Scns, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", TYPER, *args], capture_output=True, text=True,
                          cwd=scns.workdir, env=scns.env)  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ("queue",),
        ("queue", "--all"),
        ("queue", "--state", "PENDING"),
        ("queue", "--json"),
        ("queue", "-a", "--limit", "2", "--json"),
        ("queue", "-r", "--limit", "3"),
        ("queue", "-h", "--sort", "-i"),
        ("queue", "-o", "%.5i %j %T", "-n", "one", "-a"),
        ("queue", "--me", "-j", "2", "--json"),
        ("queue", "-u", "no-such-user-x"),
        ("queue", "--sort", "q"),
        ("query", "1"),
        ("query", "2_1", "--json"),
        ("query", "999"),
        ("query", "abc"),
    ],
)
def test_fast_path_matches_typer(scns: Scns, args: tuple[str, ...]) -> None:
    scns.submit("-J", "one", "--wrap", "true")
    scns.submit("-a", "0-2", "-H", "--wrap", "true")
    scns.run("cancel", "1")
    fast = scns.run(*args, check=False)
    slow = via_typer(scns, *args)
    assert (fast.returncode, fast.stderr) == (slow.returncode, slow.stderr)
    if "--json" in args and fast.returncode == 0:
        assert _stable(json.loads(fast.stdout)) == _stable(json.loads(slow.stdout))
    elif args[0] == "queue":
        assert fast.stdout == slow.stdout
    else:
        assert fast.stdout.splitlines()[:3] == slow.stdout.splitlines()[:3]


def _stable(value):
    """Drop what depends on the moment of the call (waits of pending jobs grow)."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        item.pop("wait_time_s", None)
        item.pop("run_time_s", None)
    return value


COMMANDS = ["submit", "query", "queue", "history", "cancel", "daemon", "info", "simulate", "hold",
            "release", "update", "cleanup", "health", "db upgrade"]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(scns: Scns, command: str) -> None:
    proc = scns.run(*command.split(), "--help")
    assert proc.returncode == 0
    assert "Example" in proc.stdout, f"`scns {command} --help` shows no example"


def test_top_level_help_lists_every_command(scns: Scns) -> None:
    listed = scns.run("--help").stdout
    for command in COMMANDS:
        assert command.split()[0] in listed
