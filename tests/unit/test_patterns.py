import pytest
from hypothesis import given
from hypothesis import strategies as st

from scns.domain.patterns import expand_path_pattern, has_placeholders

JOB = {"job_id": 42, "name": "train", "user": "ada"}
ARRAY_TASK = {**JOB, "array_job_id": 40, "array_task_id": 7, "node": "c1"}


@pytest.mark.parametrize(
    ("pattern", "fields", "expanded"),
    [
        ("slurm-%j.out", JOB, "slurm-42.out"),
        ("%x-%u.log", JOB, "train-ada.log"),
        ("%A_%a.out", JOB, "42_4294967294.out"),  # not an array: Slurm's NO_VAL task id
        ("%A_%a.out", ARRAY_TASK, "40_7.out"),
        ("%N.out", JOB, "unknown.out"),
        ("%N.out", ARRAY_TASK, "c1.out"),
        ("%4j", JOB, "0042"),
        ("%1j", JOB, "42"),
        ("%3a", ARRAY_TASK, "007"),
        ("%12j", JOB, "000000042"),  # width clamped to 9
        ("%5x", JOB, "train"),  # width ignored for text
        ("100%%", JOB, "100%"),
        ("%%j", JOB, "%j"),
        ("%q %5q", JOB, "%q %5q"),  # unknown letters left as-is
        ("end%", JOB, "end%"),
        ("%-%.", JOB, "%-%."),
        ("/tmp\\/%j.out", JOB, "/tmp/%j.out"),  # a backslash disables expansion
        ("plain.out", JOB, "plain.out"),
    ],
)
def test_expand_path_pattern(pattern, fields, expanded):
    assert expand_path_pattern(pattern, **fields) == expanded


def test_values_containing_percent_are_not_re_expanded():
    assert expand_path_pattern("%x", job_id=1, name="a%jb", user="u") == "a%jb"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("slurm-%j.out", True),
        ("%4a", True),
        ("%N", True),
        ("100%%", True),
        ("plain.out", False),
        ("%q", False),
        ("%", False),
        ("a\\%j", False),
    ],
)
def test_has_placeholders(pattern, expected):
    assert has_placeholders(pattern) is expected


@given(st.text(alphabet=st.characters(blacklist_characters="%\\")))
def test_text_without_percent_or_backslash_is_unchanged(pattern):
    assert not has_placeholders(pattern)
    assert expand_path_pattern(pattern, **JOB) == pattern


@given(st.text())
def test_has_placeholders_predicts_change_for_plain_values(pattern):
    # With values that differ from any placeholder text, expansion changes the pattern
    # exactly when has_placeholders says it would (backslash-only edits aside).
    if "\\" in pattern:
        return
    expanded = expand_path_pattern(pattern, **JOB)
    assert (expanded != pattern) == has_placeholders(pattern)
