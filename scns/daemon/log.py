"""One structured line per event on stderr (logfmt), readable by people and by journald."""

from __future__ import annotations

import sys
import time


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def log(event: str, **fields: object) -> None:
    """Write ``time=... event=... key=value...``; never raises."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    parts = [f"time={stamp}Z", f"event={event}"]
    parts += [f"{k}={_quote(v)}" for k, v in fields.items() if v is not None]
    try:
        sys.stderr.write(" ".join(parts) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
