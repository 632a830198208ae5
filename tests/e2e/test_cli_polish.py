"""The CLI itself: one-line usage errors (exit 2), Ctrl-C (one line, exit 130), a closed
pipe (quiet), --version, shell completion, readable help (issue 13)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

from scns import __version__
from scns.domain.options import _SLURM_ONLY
from tests.conftest import SCNS, Scns, wait_until

TYPER = "import sys; from scns.cli.app import run; run(sys.argv[1:])"


@pytest.mark.parametrize(
    ("args", "command", "mentions"),
    [
        (["queue", "--frob"], "scns queue", "--frob"),
        (["queue", "--limit", "x"], "scns queue", "--limit"),
        (["query"], "scns query", "Missing argument 'ID'"),
        (["query", "1", "2"], "scns query", "unexpected extra argument"),
        (["cancel"], "scns cancel", "Missing argument"),
        (["frob"], "scns", "No such command 'frob'"),
        (["daemon", "--cpus", "x"], "scns daemon", "--cpus"),
        (["db", "frob"], "scns db", "frob"),
        (["node", "drain"], "scns node drain", "Missing argument 'NAME'"),
        (["update", "1", "--priority", "high"], "scns update", "--priority"),
    ],
)
def test_usage_error_is_one_line_exit_2(scns: Scns, args, command, mentions) -> None:
    proc = scns.run(*args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{command}: error: "), lines[0]
    assert mentions in lines[0]


def test_version(scns: Scns) -> None:
    assert scns.run("--version").stdout == f"scns {__version__}\n"
    typer = subprocess.run([sys.executable, "-c", TYPER, "--version"], capture_output=True,
                           text=True, env=scns.env)  # fmt: skip
    assert (typer.returncode, typer.stdout) == (0, f"scns {__version__}\n")


HELP_COMMANDS = ["", "queue", "query", "cancel", "daemon", "info", "hold", "release",
                 "update", "cleanup", "health", "db upgrade", "node drain", "stats"]  # fmt: skip


@pytest.mark.parametrize("command", HELP_COMMANDS)
def test_help_shows_readable_metavariables(scns: Scns, command: str) -> None:
    out = scns.run(*command.split(), "--help").stdout
    for typed in ("<bool>", "<str>", "<int>", "<float>", "<list", " TEXT ", " INTEGER "):
        assert typed not in out, f"`scns {command} --help` shows {typed.strip()}"


def test_help_names_values_by_what_they_are(scns: Scns) -> None:
    assert "{ID}" in scns.run("query", "--help").stdout
    update = scns.run("update", "--help").stdout
    assert " N " in update and " TIME " in update


def test_submit_help_lists_every_ignored_option(scns: Scns) -> None:
    out = scns.run("submit", "--help").stdout
    for name, short, _kind in _SLURM_ONLY:
        assert f"--{name}" in out, name
        if short:
            assert f"-{short}/--{name}" in out
    assert "Example:" in out


def test_shell_completion(scns: Scns) -> None:
    bash = scns.run(env={"_SCNS_COMPLETE": "complete_bash", "COMP_WORDS": "scns qu",
                         "COMP_CWORD": "1"}).stdout.split()  # fmt: skip
    assert bash == ["query", "queue"]
    options = scns.run(env={"_SCNS_COMPLETE": "complete_bash", "COMP_WORDS": "scns queue --",
                            "COMP_CWORD": "2"}).stdout.split()  # fmt: skip
    assert "--json" in options and "--all" in options
    zsh = scns.run(env={"_SCNS_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "scns canc"})
    assert "cancel" in zsh.stdout
    fish = scns.run(env={"_SCNS_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": "scns inf",
                         "_TYPER_COMPLETE_FISH_ACTION": "get-args"})  # fmt: skip
    assert "info" in fish.stdout
    listed = scns.run("--help").stdout
    assert "--install-completion" in listed and "--show-completion" in listed


# ---- Ctrl-C: a daemon that takes the request and never answers ------------------------------


class SilentDaemon:
    """A Unix socket that accepts one client, reads its request, and holds it."""

    def __init__(self, path: str) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.request = b""
        self.client: socket.socket | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.client, _ = self.server.accept()
        while not self.request.endswith(b"\n"):
            chunk = self.client.recv(1 << 20)
            if not chunk:
                return
            self.request += chunk

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.server.close()


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["queue", "--json"], "scns queue"),
        (["queue", "--state", "R", "--all"], "scns queue"),
        (["submit", "--wrap", "true"], "scns submit"),
        (["cancel", "1"], "scns cancel"),
        (["query", "1"], "scns query"),
        (["info"], "scns info"),
        (["stats"], "scns stats"),
    ],
)
def test_ctrl_c_is_one_line_and_exit_130(scns: Scns, args, command) -> None:
    path = os.path.join(scns.home, "silent.sock")
    daemon = SilentDaemon(path)
    try:
        proc = subprocess.Popen([*SCNS, *args], cwd=scns.workdir, text=True,
                                env={**scns.env, "SCNS_SOCKET": path},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        # the request is in: the command now waits for the answer
        wait_until(lambda: daemon.request.endswith(b"\n") or proc.poll() is not None, 30,
                   message="the command's request")  # fmt: skip
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        daemon.close()
    assert proc.returncode == 130, err
    assert err == f"{command}: interrupted\n"
    assert out == ""


def test_closed_pipe_is_quiet(scns: Scns) -> None:
    scns.submit("-H", "-a", "0-1999", "-J", "a-long-name-to-fill-the-pipe", "--wrap", "true")
    # buffered stdout (under PYTHONUNBUFFERED a partial write is silently dropped instead)
    env = {k: v for k, v in scns.env.items() if k != "PYTHONUNBUFFERED"}
    for args in (["queue", "--json"], ["queue"], ["--help"]):
        proc = subprocess.Popen([*SCNS, *args], cwd=scns.workdir, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.read(10)
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(timeout=60)
        assert err == b"", err
        # the reader had all it wanted: 0 (rich, which writes the help screens, exits 1)
        assert proc.returncode in ((0, 1) if args == ["--help"] else (0,))
