"""Operators manage nodes: drain (no new jobs, running ones finish), resume, remove (only a
node with nothing on it and no daemon), and `scns info` shows each node's state and reason.

Real daemons and jobs on each backend; every wait polls with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from tests.conftest import Scns, wait_until

# Heartbeats never go stale here: only the operator's commands and clean stops change nodes.
ENV = {"SCNS_HEARTBEAT_INTERVAL_S": "0.5", "SCNS_HEARTBEAT_TIMEOUT_S": "60",
       "SCNS_LEADER_LEASE_S": "2", "SCNS_POLL_INTERVAL_S": "1"}  # fmt: skip


def nodes(scns: Scns) -> dict[str, dict]:
    return {n["name"]: n for n in json.loads(scns.run("info", "--json").stdout)}


def gated(scns: Scns, name: str) -> tuple[int, str]:
    """A job that runs until the test opens its gate."""
    gate = os.path.join(scns.workdir, name)
    return scns.submit("--wrap", f"while [ ! -e {gate} ]; do sleep 0.05; done"), gate


def node_command(scns: Scns, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return scns.run("node", *args, check=check, env=ENV)


def test_drain_places_no_new_jobs_and_running_ones_finish(any_backend: Scns) -> None:
    scns = any_backend
    scns.start_daemon("--node", "a", "--cpus", "2", env=ENV)
    scns.start_daemon("--node", "b", "--cpus", "2", env=ENV)
    first, gate = gated(scns, "gate")  # the drained node keeps a free CPU besides this job
    drained = scns.wait_state(first, "RUNNING")["node"]
    other = "b" if drained == "a" else "a"
    out = node_command(scns, "drain", drained, "--reason", "disk swap").stdout
    assert out == f"scns node drain: node {drained} drained (disk swap)\n"
    shown = nodes(scns)[drained]
    assert (shown["state"], shown["reason"], shown["drained"]) == ("draining", "disk swap", True)
    table = scns.run("info").stdout
    assert "REASON" in table.splitlines()[0] and "disk swap" in table
    later = [scns.submit("--wrap", "echo $SCNS_NODE") for _ in range(3)]
    for job in later:  # all on the other node, none on the drained one's free CPU
        info = scns.wait_state(job, "COMPLETED", "FAILED")
        assert (info["state"], info["node"]) == ("COMPLETED", other)
    assert scns.state(first) == "RUNNING"  # the drain left it alone
    open(gate, "w").close()
    assert scns.wait_state(first, "COMPLETED", "FAILED")["state"] == "COMPLETED"
    assert nodes(scns)[drained]["state"] == "drained"
    assert node_command(scns, "resume", drained).stdout == (
        f"scns node resume: node {drained} resumed\n"
    )
    assert (nodes(scns)[drained]["state"], nodes(scns)[drained]["reason"]) == ("idle", None)
    node_command(scns, "drain", other)  # now only the resumed node takes work
    job = scns.submit("--wrap", "echo $SCNS_NODE")
    assert scns.wait_state(job, "COMPLETED", "FAILED")["node"] == drained
    again = node_command(scns, "resume", drained)
    assert again.returncode == 0 and "was not drained" in again.stdout


def test_a_drain_outlives_a_daemon_restart(any_backend: Scns) -> None:
    scns = any_backend
    daemon = scns.start_daemon("--node", "a", "--cpus", "1", env=ENV)
    node_command(scns, "drain", "a", "--reason", "firmware")
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0
    shown = nodes(scns)["a"]
    assert (shown["state"], shown["reason"]) == ("down", "stopped; drained: firmware")
    scns.start_daemon("--node", "a", "--cpus", "1", env=ENV)
    shown = nodes(scns)["a"]
    assert (shown["state"], shown["reason"]) == ("drained", "firmware")
    assert scns.run("health", env=ENV).returncode == 0  # a drained node's daemon is alive
    job = scns.submit("--wrap", "true")
    waiting = wait_until(lambda: (info := scns.query(job))["reason"] and info, 20, 0.1,
                         "the job's pending reason")  # fmt: skip
    assert waiting["state"] == "PENDING"
    node_command(scns, "resume", "a")
    assert scns.wait_state(job, "COMPLETED", "FAILED")["state"] == "COMPLETED"


def test_remove_only_a_node_with_nothing_on_it_and_no_daemon(any_backend: Scns) -> None:
    scns = any_backend
    daemons = {n: scns.start_daemon("--node", n, "--cpus", "1", env=ENV) for n in ("a", "b")}
    job, gate = gated(scns, "gate")
    busy = scns.wait_state(job, "RUNNING")["node"]
    idle = "b" if busy == "a" else "a"
    refused = node_command(scns, "remove", busy, check=False)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert f"still has 1 job(s) ({job})" in refused.stderr
    refused = node_command(scns, "remove", idle, check=False)
    assert refused.returncode == 1 and "running daemon" in refused.stderr
    daemons[idle].send_signal(signal.SIGTERM)
    assert daemons[idle].wait(timeout=10) == 0
    assert node_command(scns, "remove", idle).stdout == f"scns node remove: node {idle} removed\n"
    assert set(nodes(scns)) == {busy}
    unknown = node_command(scns, "remove", "nosuch", check=False)
    assert unknown.returncode == 1 and "no node named nosuch" in unknown.stderr
    # stopped with its job still running: still refused (the job outlives its daemon)
    daemons[busy].send_signal(signal.SIGTERM)
    assert daemons[busy].wait(timeout=10) == 0
    assert node_command(scns, "remove", busy, check=False).returncode == 1
    open(gate, "w").close()
    scns.start_daemon("--node", busy, "--cpus", "1", env=ENV)  # adopts and records the end
    assert scns.wait_state(job, "COMPLETED", "FAILED")["state"] == "COMPLETED"
    scns.stop_daemons()
    node_command(scns, "remove", busy)
    assert nodes(scns) == {}


@pytest.mark.parametrize("command", ["drain", "resume", "remove"])
def test_node_commands_have_help_with_an_example(scns: Scns, command: str) -> None:
    proc = scns.run("node", command, "--help")
    assert "Example" in proc.stdout
    assert "node" in scns.run("--help").stdout
