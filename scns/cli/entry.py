"""The ``scns`` console script: the hot commands skip the heavy imports.

``scns submit`` is most of what users and scripts run, and interpreter start-up plus
typer, pydantic and SQLAlchemy imports would cost several times the work itself; so submit
is parsed by the same sbatch option table used for ``#SBATCH`` lines and talks to SQLite
through the standard library. ``query`` and ``queue`` take the same kind of path
(``scns.cli.fast_jobs``) for their plain forms. Everything else goes through the typer app.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "submit":
        from scns.cli.submit import main as submit

        sys.exit(submit(args[1:]))
    if args and args[0] in ("query", "queue"):
        from scns.cli.fast_jobs import run as fast

        code = fast(args[0], args[1:])
        if code is not None:
            sys.exit(code)
    from scns.cli.app import run

    run(args)


def fail(message: str, *, command: str = "scns", code: int = 1) -> int:
    """One line on stderr, never a traceback."""
    sys.stderr.write(f"{command}: error: {message}\n")
    return code
