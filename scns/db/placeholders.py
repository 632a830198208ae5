"""``:name`` placeholders, scns's one SQL spelling, rewritten to what a PostgreSQL driver
takes (psycopg's ``%(name)s``, libpq's ``$n``). A module of its own so the libpq CLI path
need not import the SQLAlchemy/psycopg backend module to share it."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable

_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


def rewrite_placeholders(sql: str, render: Callable[[str, int], str]) -> tuple[str, list[str]]:
    """Each ``:name`` placeholder replaced by ``render(name, n)`` (n: 1 for the first name
    seen, the same n each time a name repeats), and the names in that order.

    What ``re.sub(r"(?<![:\\w]):([A-Za-z_]\\w*)", ...)`` would do, without importing re
    (~3 ms of every CLI command on PostgreSQL): ``::type`` casts and words like ``a:b`` stay.
    """
    order: dict[str, int] = {}
    out = []
    done = i = 0
    while (i := sql.find(":", i)) >= 0:
        before = sql[i - 1] if i else ""
        start = i + 1
        if (
            before == ":"
            or before == "_"
            or before.isalnum()
            or sql[start : start + 1] not in _NAME_START
        ):
            i = start
            continue
        end = start + 1
        while end < len(sql) and (sql[end] == "_" or sql[end].isalnum()):
            end += 1
        name = sql[start:end]
        out.append(sql[done:i])
        out.append(render(name, order.setdefault(name, len(order) + 1)))
        done = i = end
    out.append(sql[done:])
    return "".join(out), list(order)
