"""Fixtures for the end-to-end tests with Slurm's real client libraries (issue 12).

Each test drives a client (submitit, dask-jobqueue, Snakemake, Parsl) against scns's Slurm
commands, once on the embedded default (one daemon, SQLite) and once on PostgreSQL + Redis
with two daemons. A missing client library skips its tests with the reason; under CI=true it
fails them (``make test-clients`` installs the ``clients`` extra).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from types import ModuleType

import pytest

from tests.conftest import Scns, wait_until

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL")


def require(module: str) -> ModuleType:
    """Import a client library; skip the calling test module without it (fail under CI)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        why = f"{module} is not importable ({exc})"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{why}; CI must run the client tests: `make test-clients`")
        pytest.skip(
            f"{why}; `make test-clients` installs the clients extra", allow_module_level=True
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def slurm(request, scns: Scns, monkeypatch: pytest.MonkeyPatch) -> Scns:
    """Slurm's commands first on PATH, for this process (clients run in it) and its jobs.

    SQLite: one daemon with 2 CPUs (all this machine has). PostgreSQL + Redis: two daemons
    (nodes n1, n2) with 2 CPUs each. PATH is made by the README's own line in a shell, so the
    output of `scns compat path` is used as printed; the venv's bin follows it, so the jobs'
    `python -m ...` find the clients.
    The repository root is on PYTHONPATH, as a user's project is importable in their jobs.
    """
    if request.param == "postgresql":
        request.getfixturevalue("pg_scns")
        scns.start_daemon("--cpus", "2", "--node", "n1")
        scns.start_daemon("--cpus", "2", "--node", "n2")
    else:
        scns.start_daemon("--cpus", "2", "--node", "n1")
    venv_bin = os.path.dirname(sys.executable)
    base = f"{venv_bin}:{scns.env.get('PATH', '/usr/bin:/bin')}"
    readme_line = 'export PATH="$(scns compat path):$PATH"; printf %s "$PATH"'
    shell = subprocess.run(["sh", "-c", readme_line], capture_output=True, text=True,
                           env={**scns.env, "PATH": base}, timeout=60, check=True)  # fmt: skip
    scns.env.update(PATH=shell.stdout, PYTHONPATH=REPO, PYTHONUNBUFFERED="1")
    for name in list(os.environ):
        if name.startswith(("SCNS_", "SLURM_")) and name not in scns.env:
            monkeypatch.delenv(name)
    for name, value in scns.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(scns.workdir)
    return scns


def slurm_cmd(scns: Scns, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run one of the compat commands (by its Slurm name) as a client would."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, env=scns.env,
                          cwd=scns.workdir, timeout=60)  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv} failed ({proc.returncode}): {proc.stderr}")
    return proc


def sacct_states(scns: Scns, *job_ids: str) -> dict[str, str]:
    """JobID -> State as submitit reads them (header line, then ``ID|STATE`` rows)."""
    args = [a for j in job_ids for a in ("-j", str(j))]
    out = slurm_cmd(scns, "sacct", "-o", "JobID,State", "--parsable2", *args).stdout
    lines = out.splitlines()
    assert lines[0] == "JobID|State", out
    return dict(line.split("|", 1) for line in lines[1:] if "." not in line.split("|")[0])


def wait_all_ended(scns: Scns, *job_ids: str, timeout: float = 60.0) -> dict[str, str]:
    """Wait until sacct shows every job in a terminal state; return their states."""

    def ended():
        states = sacct_states(scns, *job_ids)
        done = all(states.get(str(j), "").split(" ")[0] in TERMINAL for j in job_ids)
        return states if done else None

    return wait_until(ended, timeout, 0.2, f"jobs {job_ids} to end")


def no_process_matches(pattern: str) -> bool:
    """True when no process's command line contains ``pattern``."""
    proc = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return proc.stdout.strip() == ""
