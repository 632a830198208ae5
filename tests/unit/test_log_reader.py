"""``scns log``'s reader: the last N lines found from the end, links and odd files refused."""

from __future__ import annotations

import os

import pytest

from scns.cli import log
from scns.errors import ScnsError


def reader_of(path: str, text: bytes) -> log._Reader:
    with open(path, "wb") as handle:
        handle.write(text)
    reader = log._Reader(path)
    assert reader.open() is not None
    return reader


@pytest.mark.parametrize(
    ("text", "lines", "tail"),
    [
        (b"a\nb\nc\n", 2, b"b\nc\n"),
        (b"a\nb\nc", 2, b"b\nc"),  # no final newline
        (b"a\nb\nc\n", 5, b"a\nb\nc\n"),
        (b"a\nb\nc\n", 0, b""),
        (b"a\nb\nc\n", None, b"a\nb\nc\n"),
        (b"", 3, b""),
        (b"x" * 200_000 + b"\nlast\n", 1, b"last\n"),  # found across read blocks
        (b"\n\n\n", 2, b"\n\n"),
    ],
)
def test_start_of_last_lines(tmp_path, text, lines, tail) -> None:
    reader = reader_of(str(tmp_path / "out"), text)
    assert text[reader.start_of_last(lines) :] == tail


def test_links_and_special_files_are_refused(tmp_path) -> None:
    target = tmp_path / "real"
    target.write_text("secret\n")
    link = tmp_path / "link"
    os.symlink(target, link)
    with pytest.raises(ScnsError, match="symbolic link"):
        log._Reader(str(link)).open()
    with pytest.raises(ScnsError, match="not a regular file"):
        log._Reader(str(tmp_path)).open()
    assert log._Reader(str(tmp_path / "missing")).open() is None


def test_a_truncated_or_replaced_file_is_read_again_from_its_start(tmp_path) -> None:
    path = str(tmp_path / "out")
    reader = reader_of(path, b"first run\n")
    reader.offset = 10
    with open(path, "wb") as handle:  # truncated in place (a requeued run)
        handle.write(b"2\n")
    reader.notice_replacement()
    assert reader.offset == 0
    os.unlink(path)
    with open(path, "wb") as handle:  # replaced by a new file
        handle.write(b"third\n")
    reader.offset = 2
    reader.notice_replacement()
    assert reader.offset == 0 and os.pread(reader.fd, 100, 0) == b"third\n"
