"""`scns simulate` as the CLI registers it: generate, replay, JSON shape and one-line errors."""

import json

import pytest
import typer
from typer.testing import CliRunner

from scns.cli.simulate import simulate_command
from scns.errors import InvalidInput

app = typer.Typer()
app.command("simulate")(simulate_command)
app.command("version")(lambda: None)  # a second command keeps 'simulate' a subcommand
runner = CliRunner()


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "trace.swf"
    result = runner.invoke(app, ["simulate", "--generate", "300", "--seed", "2", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote 300 jobs to {path}\n"
    return path


def test_table_has_a_row_per_policy(trace):
    result = runner.invoke(app, ["simulate", str(trace), "--nodes", "4", "--cpus-per-node", "32"])
    assert result.exit_code == 0, result.output
    for policy in ("fifo", "firstfit", "backfill"):
        assert policy in result.output


def test_json_of_one_policy_is_its_figures(trace):
    result = runner.invoke(app, ["simulate", str(trace), "--policy", "fifo", "--json"])
    figures = json.loads(result.output)
    assert figures["policy"] == "fifo"
    assert figures["jobs"] == 300
    assert "wide" in figures


def test_json_of_all_policies_is_keyed_by_policy(trace):
    result = runner.invoke(app, ["simulate", str(trace), "--json"])
    assert list(json.loads(result.output)) == ["fifo", "firstfit", "backfill"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.swf"], "trace file not found"),
        (["{trace}", "--policy", "lottery"], "unknown policy 'lottery'"),
        (["--generate", "10"], "needs -o FILE"),
        (["{trace}", "--generate", "10", "-o", "x.swf"], "not both"),
        ([], "give a TRACE.swf"),
        (["{trace}", "--nodes", "0"], "at least 1"),
    ],
)
def test_errors_are_invalid_input(trace, args, message):
    result = runner.invoke(app, ["simulate", *(arg.format(trace=trace) for arg in args)])
    assert isinstance(result.exception, InvalidInput)
    assert message in str(result.exception)


def test_malformed_trace_is_invalid_input(tmp_path):
    path = tmp_path / "bad.swf"
    path.write_text("1 2 3\n")
    result = runner.invoke(app, ["simulate", str(path)])
    assert isinstance(result.exception, InvalidInput)
    assert (
        str(result.exception) == f"{path}: not a valid SWF trace: line 1: expected 18 fields, got 3"
    )
