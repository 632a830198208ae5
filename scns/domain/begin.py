"""Slurm `--begin` values to the aware datetime before which a job must not start."""

import datetime as dt
import re

from scns.errors import InvalidInput

_FORMS = (
    "expected now[+N[seconds|minutes|hours|days|weeks]], HH:MM[:SS], midnight, noon, fika, "
    "teatime, today, tomorrow, YYYY-MM-DD[THH:MM[:SS]] or MM/DD[/YY]"
)
_UNIT_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_NAMED_TIMES = {
    "midnight": dt.time(0),
    "noon": dt.time(12),
    "fika": dt.time(15),
    "teatime": dt.time(16),
}
_RELATIVE = re.compile(r"now(?:\+([0-9]{1,12})([a-z]*))?")
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:t([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?")
_US_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})(?:/([0-9]{2}))?")


def _invalid(text: str, why: str = _FORMS) -> InvalidInput:
    return InvalidInput(f"invalid --begin {text!r}: {why}")


def _relative(text: str, match: re.Match[str], now: dt.datetime) -> dt.datetime:
    count, unit = match.group(1), match.group(2)
    if count is None:
        return now
    unit_s = _UNIT_S.get(unit.removesuffix("s"), 0) if unit else 1
    if not unit_s:
        raise _invalid(text, f"unknown unit {unit!r}: use seconds, minutes, hours, days or weeks")
    try:
        # Add real elapsed seconds (via UTC), as Slurm does, so DST shifts do not skew the delay.
        later = now.astimezone(dt.UTC) + dt.timedelta(seconds=int(count) * unit_s)
    except OverflowError:
        raise _invalid(text, "too far in the future") from None
    return later.astimezone(now.tzinfo)


def _local(date: dt.date, clock: dt.time, now: dt.datetime) -> dt.datetime:
    """Wall-clock `date` `clock` in now's zone; a time skipped by DST moves past the gap."""
    naive = dt.datetime.combine(date, clock)
    return naive.replace(tzinfo=now.tzinfo).astimezone(dt.UTC).astimezone(now.tzinfo)


def _next_occurrence(clock: dt.time, now: dt.datetime) -> dt.datetime:
    """Today at `clock` in now's zone, or tomorrow if that moment has already passed."""
    today = _local(now.date(), clock, now)
    if today < now:
        return _local(now.date() + dt.timedelta(days=1), clock, now)
    return today


def _absolute(text: str, lowered: str, now: dt.datetime) -> dt.datetime | None:
    """Dates and clock times; None when `lowered` has none of those shapes."""
    if match := _CLOCK.fullmatch(lowered):
        hour, minute, second = (int(g or 0) for g in match.groups())
        return _next_occurrence(dt.time(hour, minute, second), now)
    if match := _ISO.fullmatch(lowered):
        year, month, day, hour, minute, second = (int(g or 0) for g in match.groups())
        return _local(dt.date(year, month, day), dt.time(hour, minute, second), now)
    if match := _US_DATE.fullmatch(lowered):
        month, day = int(match.group(1)), int(match.group(2))
        if match.group(3) is not None:
            return _local(dt.date(2000 + int(match.group(3)), month, day), dt.time(0), now)
        date = dt.date(now.year, month, day)
        if date < now.date():  # no year given and already past: Slurm means next year's date
            date = dt.date(now.year + 1, month, day)
        return _local(date, dt.time(0), now)
    return None


def parse_begin(text: str, now: dt.datetime) -> dt.datetime:
    """Resolve a Slurm `--begin` value against the aware `now`, interpreting times in its zone."""
    if now.tzinfo is None:
        raise ValueError("parse_begin needs a time-zone aware now")
    lowered = text.strip().lower()
    if match := _RELATIVE.fullmatch(lowered):
        return _relative(text, match, now)
    if lowered in _NAMED_TIMES:
        return _next_occurrence(_NAMED_TIMES[lowered], now)
    if lowered in ("today", "tomorrow"):
        days = 0 if lowered == "today" else 1
        return _local(now.date() + dt.timedelta(days=days), dt.time(0), now)
    try:
        resolved = _absolute(text, lowered, now)
    except (ValueError, OverflowError) as exc:  # out-of-range month, day, hour, year
        raise _invalid(text, str(exc)) from None
    if resolved is None:
        raise _invalid(text)
    return resolved
