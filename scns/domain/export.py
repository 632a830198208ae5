"""sbatch's ``--export``: which of the submitter's variables the job gets."""

from __future__ import annotations

from collections.abc import Mapping

from scns.errors import InvalidInput


def apply_export(env: Mapping[str, str], spec: str | None) -> dict[str, str]:
    """The job's environment under ``--export=spec``.

    ``ALL`` (the default): everything. ``NONE``: nothing of the submitter's (the job still
    gets the SLURM_* variables scns sets). ``NAME,NAME=value,...``: only those (a bare name
    copies the submitter's value); ``ALL,NAME=value``: everything plus those.
    """
    if spec is None or spec.strip().upper() == "ALL":
        return dict(env)
    items = [item for item in spec.split(",") if item]
    if not items:
        raise InvalidInput("invalid --export '': expected ALL, NONE or variable names")
    keep_all = items[0].strip().upper() == "ALL"
    if items[0].strip().upper() in ("ALL", "NONE"):
        items = items[1:]
    result = dict(env) if keep_all else {}
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not name or not (name[0].isalpha() or name[0] == "_"):
            raise InvalidInput(f"invalid --export variable {name!r}")
        if eq:
            result[name] = value
        elif name in env:
            result[name] = env[name]
    return result
