import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scns.domain.arrayspec import MAX_TASK_ID, ArraySpec, format_array, parse_array
from scns.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "task_ids", "max_running"),
    [
        ("0-15", tuple(range(16)), None),
        ("1,3,5", (1, 3, 5), None),
        ("0-15:4", (0, 4, 8, 12), None),
        ("1,3,10-20:2", (1, 3, 10, 12, 14, 16, 18, 20), None),
        ("0-15%2", tuple(range(16)), 2),
        ("7", (7,), None),
        ("5-5", (5,), None),
        ("3,1,2,3", (1, 2, 3), None),  # sorted, duplicates removed
        ("0-4,2-6", tuple(range(7)), None),
        (" 1-3%1 ", (1, 2, 3), 1),
        (f"{MAX_TASK_ID}", (MAX_TASK_ID,), None),
    ],
)
def test_parse_array(text, task_ids, max_running):
    assert parse_array(text) == ArraySpec(task_ids, max_running)


@pytest.mark.parametrize(
    ("text", "max_tasks", "message"),
    [
        ("", 100, "expected ids like"),
        ("1,,2", 100, "expected ids like"),
        ("-1", 100, "expected ids like"),
        ("1-2-3", 100, "expected ids like"),
        ("a-b", 100, "expected ids like"),
        ("1 ,2", 100, "expected ids like"),
        ("%4", 100, "expected ids like"),
        ("5-1", 100, "range '5-1' is reversed"),
        ("0-4:0", 100, "step in '0-4:0' must be at least 1"),
        ("0-4000001", 10**7, "task id 4000001 is above the maximum"),
        ("0-15%0", 100, "%0 must be a whole number of at least 1"),
        ("0-15%x", 100, "%x must be a whole number"),
        ("0-15%", 100, "% must be a whole number"),
        ("0-10", 10, "more than 10 tasks"),
        ("0-5,10-15", 10, "more than 10 tasks"),
        (",".join(["0-9"] * 100), 10, "more than 10 tasks"),  # duplicate-heavy scans
    ],
)
def test_parse_array_rejects(text, max_tasks, message):
    with pytest.raises(InvalidInput, match=message) as info:
        parse_array(text, max_tasks=max_tasks)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("task_ids", "max_running", "text"),
    [
        (tuple(range(16)), 2, "0-15%2"),
        ((1, 3, 5), None, "1,3,5"),
        ((1, 2), None, "1,2"),
        ((0, 4, 8, 12), None, "0-12:4"),
        ((1, 3, 10, 11, 12, 13), None, "1,3,10-13"),
        ((0, 2, 3, 4, 5), None, "0,2-5"),
        ((), None, ""),
    ],
)
def test_format_array(task_ids, max_running, text):
    assert format_array(ArraySpec(task_ids, max_running)) == text


def test_large_range_is_fast():
    started = time.perf_counter()
    spec = parse_array("0-99999")
    assert len(spec.task_ids) == 100_000
    assert format_array(spec) == "0-99999"
    assert time.perf_counter() - started < 1.0


specs = st.builds(
    ArraySpec,
    st.sets(st.integers(0, MAX_TASK_ID), min_size=1, max_size=50).map(lambda s: tuple(sorted(s))),
    st.none() | st.integers(1, 1000),
)


@given(specs)
def test_format_round_trips(spec):
    assert parse_array(format_array(spec)) == spec


@given(st.integers(0, 1000), st.integers(0, 1000), st.integers(1, 50))
def test_stepped_range_matches_python_range(first, length, step):
    last = first + length
    assert parse_array(f"{first}-{last}:{step}").task_ids == tuple(range(first, last + 1, step))
