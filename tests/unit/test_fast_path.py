"""The hot commands' shortcuts give exactly what the general code gives, and stay light.

``scns submit`` replaces json.dumps and shlex.split with cheaper equivalents on the common
inputs; these checks pin the equivalence, and what the command imports.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from scns.db.statements.common import dumps
from scns.domain.directives import split_words

WORDS = st.text(alphabet=st.sampled_from(list("ab -=\t'\"\\#\r\x0bé,:€")), max_size=30)


@given(WORDS)
def test_split_words_is_shlex_split(body: str) -> None:
    try:
        expected = shlex.split(body, comments=True)
    except ValueError:
        expected = None
    try:
        got = split_words(body)
    except ValueError:
        got = None
    assert got == expected


@given(st.lists(st.text()))
def test_dumps_of_a_list_of_strings_is_json_dumps(value: list[str]) -> None:
    assert dumps(value) == json.dumps(value, separators=(",", ":"))


@given(st.dictionaries(st.text(), st.text()))
def test_dumps_of_a_string_map_is_json_dumps(value: dict[str, str]) -> None:
    assert dumps(value) == json.dumps(value, separators=(",", ":"))


def test_dumps_of_anything_else_falls_back_to_json() -> None:
    value = {"a": [1, 2.5, None, True], "b": "x"}
    assert dumps(value) == json.dumps(value, separators=(",", ":"))


def test_submit_imports_only_what_it_needs(tmp_path) -> None:
    """Each of these costs 1–4 ms at every submit; none of them is needed to store a job."""
    probe = (
        "import sys\n"
        "from scns.cli.submit import main\n"
        "code = main(['--parsable', '--wrap', 'true'])\n"
        "heavy = ['re', 'json', 'enum', 'datetime', 'shlex', 'typing', 'dataclasses', 'sqlite3',\n"
        "         'socket', 'sqlalchemy', 'pydantic', 'typer', 'contextlib']\n"
        "print(code, sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = dict(os.environ, SCNS_HOME=str(tmp_path))
    # the first command on a new home creates the schema (through SQLAlchemy and Alembic)
    subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, check=True)
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert out.stdout.splitlines()[-1] == "0 []"


_REGEX = r"%(%|([0-9]*)([A-Za-z]))"


def _regex_expand(pattern: str, **values: object) -> str:
    """The regex-based expander scns used before: the reference for the hand scanner."""
    import re

    if "\\" in pattern:
        return pattern.replace("\\", "")
    numbers = {"j": values["job_id"], "A": values["array_id"], "a": values["task"]}
    texts = {"x": values["name"], "u": values["user"], "N": "unknown"}

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) == "%":
            return "%"
        width_text, letter = match.group(2), match.group(3)
        if letter in texts:
            return str(texts[letter])
        if letter not in numbers:
            return match.group(0)
        return str(numbers[letter]).zfill(min(int(width_text[:3] or 0), 9))

    return re.sub(_REGEX, substitute, pattern)


@given(st.text(alphabet=st.sampled_from(list("%%%0123jaAxuNqZ./-é\\")), max_size=25))
def test_pattern_scanner_matches_the_regex(pattern: str) -> None:
    from scns.domain.patterns import expand_path_pattern

    got = expand_path_pattern(pattern, job_id=42, name="nm", user="me", array_job_id=40,
                              array_task_id=2)  # fmt: skip
    assert got == _regex_expand(pattern, job_id=42, array_id=40, task=2, name="nm", user="me")


@given(st.lists(st.sampled_from([*":ab_1 ,()'é$", "::int"]), max_size=30).map("".join))
def test_libpq_placeholders_match_the_regex(sql: str) -> None:
    import re

    from scns.db.libpq import _number_placeholders

    order: dict[str, int] = {}

    def number(match: re.Match) -> str:
        return f"${order.setdefault(match.group(1), len(order) + 1)}"

    expected = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", number, sql)
    assert _number_placeholders(sql) == (expected.encode(), list(order))


def test_a_fast_command_closes_its_database_before_its_fast_exit(tmp_path) -> None:
    """The fast paths leave with os._exit: the database must have been closed first
    (SQLite then checkpoints and removes its WAL), and the output flushed."""
    env = dict(os.environ, SCNS_HOME=str(tmp_path), SCNS_SOCKET="")
    run = [sys.executable, "-m", "scns"]
    subprocess.run([*run, "submit", "--wrap", "true"], env=env, capture_output=True, check=True)
    out = subprocess.run([*run, "submit", "--parsable", "-H", "--wrap", "true"], env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.strip().isdigit()
    assert "no scns daemon is running" in out.stderr  # stderr flushed too
    assert not os.path.exists(tmp_path / "scns.db-wal")
    listed = subprocess.run([*run, "queue", "--json"], env=env, capture_output=True,
                            text=True, check=True)  # fmt: skip
    assert [j["job_id"] for j in json.loads(listed.stdout)] == [1, int(out.stdout)]
    assert not os.path.exists(tmp_path / "scns.db-wal")
