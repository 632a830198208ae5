import datetime as dt
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scns.domain.begin import parse_begin
from scns.errors import InvalidInput

UTC = dt.UTC
NOW = dt.datetime(2024, 6, 10, 14, 30, 15, tzinfo=UTC)  # a Monday afternoon


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("now+60", NOW + dt.timedelta(seconds=60)),
        ("now+1second", NOW + dt.timedelta(seconds=1)),
        ("now+5minutes", NOW + dt.timedelta(minutes=5)),
        ("now+1minute", NOW + dt.timedelta(minutes=1)),
        ("now+2hours", NOW + dt.timedelta(hours=2)),
        ("now+1hour", NOW + dt.timedelta(hours=1)),
        ("now+3days", NOW + dt.timedelta(days=3)),
        ("now+1day", NOW + dt.timedelta(days=1)),
        ("now+2weeks", NOW + dt.timedelta(weeks=2)),
        ("now+1week", NOW + dt.timedelta(weeks=1)),
        ("16:00", at(2024, 6, 10, 16, 0)),
        ("9:05", at(2024, 6, 11, 9, 5)),  # already past today: tomorrow
        ("14:30:15", NOW),  # exactly now is not past
        ("14:30:14", at(2024, 6, 11, 14, 30, 14)),
        ("midnight", at(2024, 6, 11)),
        ("noon", at(2024, 6, 11, 12)),
        ("fika", at(2024, 6, 10, 15)),
        ("teatime", at(2024, 6, 10, 16)),
        ("today", at(2024, 6, 10)),
        ("tomorrow", at(2024, 6, 11)),
        ("2024-07-01", at(2024, 7, 1)),
        ("2024-07-01T08:15", at(2024, 7, 1, 8, 15)),
        ("2024-07-01T08:15:30", at(2024, 7, 1, 8, 15, 30)),
        ("2020-01-01", at(2020, 1, 1)),  # past dates are allowed: start at once
        ("12/24", at(2024, 12, 24)),
        ("6/10", at(2024, 6, 10)),  # today's date, no year: this year
        ("06/09", at(2025, 6, 9)),  # past, no year: next year
        ("01/02/25", at(2025, 1, 2)),
    ],
)
def test_parse_begin(text, expected):
    assert parse_begin(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected now"),
        ("later", "expected now"),
        ("now+", "expected now"),
        ("now-5", "expected now"),
        ("now+1 day", "expected now"),
        ("now+5fortnights", "unknown unit 'fortnights'"),
        ("now+999999999999weeks", "too far in the future"),
        ("24:00", "hour must be in"),
        ("12:60", "minute must be in"),
        ("2024-02-30", "day is out of range"),
        ("2024-13-01", "month must be in"),
        ("0000-01-01", "year 0 is out of range"),
        ("9999-12-31T23:59", "out of range"),  # past datetime.max once in UTC-5
        ("2024-07-01 08:15", "expected now"),
        ("13/01", "month must be in"),
        ("1/2/2025", "expected now"),
    ],
)
def test_parse_begin_rejects(text, message):
    minus_five = NOW.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    with pytest.raises(InvalidInput, match=message) as info:
        parse_begin(text, minus_five)
    assert repr(text) in str(info.value)


def test_naive_now_is_a_programming_error():
    with pytest.raises(ValueError, match="aware"):
        parse_begin("now", NOW.replace(tzinfo=None))


def test_clock_times_use_nows_zone():
    tokyo = NOW.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))  # 23:30:15 local
    assert parse_begin("23:45", tokyo) == dt.datetime(2024, 6, 10, 23, 45, tzinfo=tokyo.tzinfo)
    assert parse_begin("tomorrow", tokyo).utcoffset() == dt.timedelta(hours=9)


def test_relative_offsets_are_elapsed_time_across_dst():
    stockholm = zoneinfo.ZoneInfo("Europe/Stockholm")
    before_dst = dt.datetime(2024, 3, 30, 12, 0, tzinfo=stockholm)
    later = parse_begin("now+24hours", before_dst)
    # Same-zone subtraction is wall-clock in Python; compare instants in UTC.
    assert later.astimezone(UTC) - before_dst.astimezone(UTC) == dt.timedelta(hours=24)
    assert later.hour == 13  # clocks sprang forward overnight


def test_time_skipped_by_dst_moves_past_the_gap():
    stockholm = zoneinfo.ZoneInfo("Europe/Stockholm")
    evening = dt.datetime(2024, 3, 30, 22, 0, tzinfo=stockholm)
    assert parse_begin("02:30", evening) == dt.datetime(2024, 3, 31, 3, 30, tzinfo=stockholm)


aware_nows = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2090, 1, 1), timezones=st.just(UTC)
)


@given(aware_nows, st.times().map(lambda t: t.replace(microsecond=0)))
def test_clock_time_is_next_occurrence_within_a_day(now, clock):
    begin = parse_begin(clock.strftime("%H:%M:%S"), now)
    assert begin.time() == clock
    assert now <= begin < now + dt.timedelta(days=1)


@given(aware_nows, st.integers(min_value=0, max_value=10**7))
def test_now_plus_seconds_adds_exactly(now, seconds):
    assert parse_begin(f"now+{seconds}", now) == now + dt.timedelta(seconds=seconds)
