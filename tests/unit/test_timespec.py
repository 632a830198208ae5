import pytest
from hypothesis import given
from hypothesis import strategies as st

from scns.domain.timespec import MAX_LIMIT_S, format_duration, parse_time_limit
from scns.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5", 300),
        ("90", 5400),
        ("5:30", 330),
        ("1:02:03", 3723),
        ("1-2", 93600),
        ("1-2:03", 93780),
        ("1-2:03:04", 93784),
        ("0:90", 90),  # Slurm normalises fields >= 60
        ("1:75:00", 8100),
        (" 10 ", 600),
        ("365-0", MAX_LIMIT_S),
        ("0", None),
        ("0:0", None),
        ("UNLIMITED", None),
        ("unlimited", None),
        ("Infinite", None),
    ],
)
def test_parse_time_limit(text, seconds):
    assert parse_time_limit(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected M, M:S"),
        ("-5", "must not be negative"),
        ("-1-0", "must not be negative"),
        ("abc", "expected M, M:S"),
        ("1.5", "expected M, M:S"),
        ("1:2:3:4", "expected M, M:S"),
        ("1-2:3:4:5", "expected M, M:S"),
        ("1-", "expected M, M:S"),
        ("1--2", "expected M, M:S"),
        ("1:", "expected M, M:S"),
        ("١٢", "expected M, M:S"),  # non-ASCII digits
        ("365-0:1", "longer than 365 days"),
        ("99999999999999999999", "longer than 365 days"),
    ],
)
def test_parse_time_limit_rejects(text, message):
    with pytest.raises(InvalidInput, match=message) as info:
        parse_time_limit(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "UNLIMITED"),
        (-3, "0:00"),
        (0, "0:00"),
        (5, "0:05"),
        (5.9, "0:05"),
        (754, "12:34"),
        (3599, "59:59"),
        (3600, "1:00:00"),
        (86399, "23:59:59"),
        (86400, "1-00:00:00"),
        (93784, "1-02:03:04"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@given(st.integers(min_value=1, max_value=MAX_LIMIT_S))
def test_formatted_duration_parses_back(seconds):
    assert parse_time_limit(format_duration(seconds)) == seconds
