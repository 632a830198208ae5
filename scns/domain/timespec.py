"""Slurm `--time` limits to seconds and elapsed times to squeue's compact display."""

from scns.errors import InvalidInput

MAX_LIMIT_S = 365 * 86400
_FORMS = "expected M, M:S, H:M:S, D-H, D-H:M, D-H:M:S or UNLIMITED"
_UNLIMITED_WORDS = frozenset({"unlimited", "infinite"})
# Seconds per field, by (has day part, number of colon-separated fields).
_FIELD_SCALES_S = {
    (False, 1): (60,),
    (False, 2): (60, 1),
    (False, 3): (3600, 60, 1),
    (True, 1): (86400, 3600),
    (True, 2): (86400, 3600, 60),
    (True, 3): (86400, 3600, 60, 1),
}


def _invalid(text: str, why: str = _FORMS) -> InvalidInput:
    return InvalidInput(f"invalid --time {text!r}: {why}")


def _parse_field(text: str, field: str) -> int:
    if not (field.isascii() and field.isdigit()):
        raise _invalid(text)
    if len(field) > 12:  # also keeps int() clear of Python's huge-digit-string limit
        raise _invalid(text, "longer than 365 days")
    return int(field)


def parse_time_limit(text: str) -> int | None:
    """Turn a Slurm `--time` value into seconds; None means no limit (UNLIMITED or 0)."""
    stripped = text.strip()
    if stripped.lower() in _UNLIMITED_WORDS:
        return None
    days_part, dash, clock_part = stripped.rpartition("-")
    if stripped.startswith("-"):
        raise _invalid(text, "must not be negative")
    fields = clock_part.split(":")
    scales = _FIELD_SCALES_S.get((bool(dash), len(fields)))
    if scales is None:
        raise _invalid(text)
    values = ([_parse_field(text, days_part)] if dash else []) + [
        _parse_field(text, field) for field in fields
    ]
    total_s = sum(value * scale for value, scale in zip(values, scales, strict=True))
    if total_s > MAX_LIMIT_S:
        raise _invalid(text, "longer than 365 days")
    return total_s or None  # Slurm: a zero limit means no limit


def format_duration(seconds: float | None) -> str:
    """Render a duration like squeue's TIME column: M:SS, H:MM:SS or D-HH:MM:SS."""
    if seconds is None:
        return "UNLIMITED"
    whole_s = max(0, int(seconds))
    days, rest_s = divmod(whole_s, 86400)
    hours, rest_s = divmod(rest_s, 3600)
    minutes, secs = divmod(rest_s, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str, option: str = "--purge-after") -> int:
    """An age like ``30d``, ``12h``, ``90m``, ``45s`` or ``2w`` (bare number: days), in seconds."""
    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in _AGE_UNITS else "d"
    number = value[:-1] if value[-1:] in _AGE_UNITS else value
    if not number.isdigit():
        raise InvalidInput(f"invalid {option} {text!r}: expected a number and s, m, h, d or w")
    return int(number) * _AGE_UNITS[unit]
