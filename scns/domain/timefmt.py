"""Times as users read them: ISO 8601 in the local time zone, of the whole second."""

from __future__ import annotations

import datetime as dt


def iso(ts: float | None) -> str | None:
    """ISO 8601 with the local time zone, as users read their own clock, of the whole second
    (as statements.listings._iso_sql, which SQLite runs for ``queue --json``)."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).astimezone().isoformat(timespec="seconds")
