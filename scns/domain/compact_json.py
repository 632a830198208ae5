"""Compact JSON for the hot paths (submit, the socket protocol) without importing ``json``.

``json`` brings ``re`` and ``enum`` (~4 ms of a submit); its C accelerator alone quotes
strings and scans documents. Each function here gives exactly what the ``json`` module
would (property-tested against it).
"""

from __future__ import annotations

try:  # the C pieces json itself uses
    from _json import encode_basestring_ascii as _quote
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - an interpreter without the accelerator
    _quote = None  # type: ignore[assignment]
    _make_scanner = None  # type: ignore[assignment,misc]


def dumps(value: object) -> str:
    """Byte for byte ``json.dumps(value, separators=(",", ":"))``.

    Lists of strings and maps of strings to strings are encoded here; anything else goes to
    ``json``.
    """
    if _quote is not None:
        kind = type(value)
        if isinstance(value, str) and kind is str:
            return _quote(value)
        if kind is int:
            return str(value)
        if value is None:
            return "null"
        if kind is bool:
            return "true" if value else "false"
        if isinstance(value, list) and all(type(v) is str for v in value):
            return "[" + ",".join(map(_quote, value)) + "]"
        if isinstance(value, dict) and all(
            type(k) is str and type(v) is str for k, v in value.items()
        ):
            return "{" + ",".join(_quote(k) + ":" + _quote(v) for k, v in value.items()) + "}"
    import json

    return json.dumps(value, separators=(",", ":"))


class _Context:
    """What the C scanner reads off a JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}  # noqa: RUF012 - the scanner clears it after each document

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


_scan = _make_scanner(_Context()) if _make_scanner is not None else None  # type: ignore[arg-type]


def loads(text: str) -> object:
    """``json.loads(text)`` for one document without surrounding whitespace."""
    if _scan is not None:
        try:
            value, end = _scan(text, 0)
        except StopIteration:
            value, end = None, -1
        if end == len(text):
            return value
    import json

    return json.loads(text)
