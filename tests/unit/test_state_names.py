"""Job state names have one source: the SQL state lists and every group of states are
built from scns/domain/state_names.py, which JobState and its sets are built from too."""

from __future__ import annotations

import re
from pathlib import Path

import scns
from scns.db.statements import common
from scns.domain import state_names
from scns.domain.states import ALLOCATED, LIVE, TERMINAL, JobState

ROOT = Path(scns.__file__).parent
NAMES = "|".join(s.value for s in JobState)
# a hand-written list of states in SQL text: IN ('RUNNING', ...
HAND_WRITTEN = re.compile(rf"IN \(\s*'({NAMES})'")
# files allowed a literal list (none now; the migrations, being history, are not scanned)
NOT_YET: set[str] = set()


def test_every_state_is_live_or_terminal_once() -> None:
    assert set(JobState) == LIVE | TERMINAL and not LIVE & TERMINAL
    assert ALLOCATED < LIVE
    assert [s.value for s in JobState] == [*state_names.LIVE_NAMES, *state_names.TERMINAL_NAMES]


def test_sql_lists_are_the_domain_sets() -> None:
    def parsed(sql_list: str) -> set[str]:
        return set(re.findall(r"'([A-Z_]+)'", sql_list))

    assert parsed(common.LIVE) == {s.value for s in LIVE}
    assert parsed(common.ALLOCATED) == {s.value for s in ALLOCATED}


def test_no_hand_written_state_lists_in_sql() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
        for path in sorted(ROOT.rglob("*.py"))
        if "migrations" not in path.parts and str(path.relative_to(ROOT)) not in NOT_YET
        for text in [path.read_text()]
        for m in HAND_WRITTEN.finditer(text)
    ]
    assert found == []
