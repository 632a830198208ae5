"""`scns node` refuses users when a system daemon serves the machine: only root changes
nodes there (the check runs before any state is opened)."""

from __future__ import annotations

import os

from typer.testing import CliRunner

from scns.cli.app import app


def test_only_root_changes_nodes_of_the_system_daemon(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SCNS_SOCKET", str(tmp_path / "scns.sock"))
    monkeypatch.setenv("SCNS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    for args in (["drain", "n1"], ["resume", "n1"], ["remove", "n1"]):
        result = CliRunner().invoke(app, ["node", *args])
        assert result.exit_code == 1
        assert result.stderr == (
            f"scns node {args[0]}: error: only root may change the nodes of the system daemon\n"
        )
    assert not (tmp_path / "home").exists()  # refused before opening anything
