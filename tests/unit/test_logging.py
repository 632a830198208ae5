"""The daemon's log lines through the standard logging module: logfmt as it always was,
JSON lines on request, the libraries' records in the same format (issue 13)."""

from __future__ import annotations

import json
import logging
import re
import sys

import pytest

from scns import log as daemon_log
from scns.errors import InvalidInput

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture
def fmt():
    """Configure a format; back to logfmt afterwards."""
    yield daemon_log.configure
    daemon_log.configure("logfmt")


def test_logfmt_is_the_format_it_always_was(fmt, capsys) -> None:
    fmt("logfmt")
    daemon_log.log("job_ended", job=7, state="FAILED", exit_code=None, reason='said "no"',
                   where="a b", empty="", lines="one\ntwo", recorded=True)  # fmt: skip
    line = capsys.readouterr().err
    assert re.fullmatch(
        rf'time={STAMP} event=job_ended job=7 state=FAILED reason="said \\"no\\"" where="a b"'
        r' empty="" lines="one\\ntwo" recorded=True' + "\n",
        line,
    ), line


def test_json_lines_keep_the_types(fmt, capsys) -> None:
    fmt("json")
    daemon_log.log("scheduled", started=3, pass_ms=1.25, full=False, node="n1", skipped=None,
                   cpus=[0, 1])  # fmt: skip
    out = capsys.readouterr().err
    assert out.count("\n") == 1
    line = json.loads(out)
    assert re.fullmatch(STAMP, line.pop("time"))
    assert line == {"event": "scheduled", "started": 3, "pass_ms": 1.25, "full": False,
                    "node": "n1", "cpus": "[0, 1]"}  # fmt: skip


@pytest.mark.parametrize("style", ["logfmt", "json"])
def test_a_librarys_record_shares_the_format(fmt, capsys, style: str) -> None:
    fmt(style)
    logging.getLogger("rq.worker").warning("worker %s stopped", "w1")
    logging.getLogger("some.lib").info("not shown: libraries log from WARNING")
    out = capsys.readouterr().err
    assert out.count("\n") == 1, out
    if style == "json":
        line = json.loads(out)
        assert (line["event"], line["logger"], line["level"], line["message"]) == (
            "log", "rq.worker", "warning", "worker w1 stopped")  # fmt: skip
    else:
        assert re.fullmatch(rf'time={STAMP} event=log logger=rq.worker level=warning'
                            r' message="worker w1 stopped"' + "\n", out)  # fmt: skip


def test_configure_again_replaces_the_handler(fmt, capsys) -> None:
    fmt("json")
    fmt("logfmt")
    daemon_log.log("x")
    assert capsys.readouterr().err.count("\n") == 1


def test_unknown_format_is_refused_in_one_line(fmt) -> None:
    with pytest.raises(InvalidInput, match=r"invalid setting .*'xml'.*: expected logfmt or json"):
        fmt("xml")


def test_log_never_raises_on_a_closed_stream(fmt, monkeypatch) -> None:
    fmt("logfmt")

    class Closed:
        def write(self, _text):
            raise ValueError("I/O operation on closed file")

        def flush(self):
            raise OSError("closed")

    monkeypatch.setattr(sys, "stderr", Closed())
    daemon_log.log("still_fine", n=1)


def test_log_format_is_a_setting(monkeypatch) -> None:
    from scns.settings import Settings

    monkeypatch.setenv("SCNS_LOG_FORMAT", "json")
    assert Settings().log_format == "json"
    monkeypatch.setenv("SCNS_LOG_FORMAT", "yaml")
    with pytest.raises(InvalidInput, match="SCNS_LOG_FORMAT"):
        Settings()
