"""The job filters `queue` and `history` share, declared once (same flags, same help)."""

from __future__ import annotations

from typing import Annotated

import typer

LIST = "repeat or comma-separate"

Me = Annotated[bool, typer.Option("--me", help="Only your jobs.")]
Users = Annotated[
    list[str] | None,
    typer.Option("--user", "-u", metavar="USER", help=f"Only these users' jobs ({LIST})."),
]
Names = Annotated[
    list[str] | None,
    typer.Option("--name", "-n", metavar="NAME", help=f"Only jobs with these names ({LIST})."),
]
