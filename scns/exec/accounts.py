"""Unix accounts as jobs see them: the variables a login would set."""

from __future__ import annotations


def account_variables(uid: int) -> dict[str, str]:
    """HOME, USER, LOGNAME and SHELL of the account a job runs as (system mode), whatever
    the submitting client sent."""
    import pwd

    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return {"HOME": "/", "USER": str(uid), "LOGNAME": str(uid), "SHELL": "/bin/sh"}
    return {
        "HOME": entry.pw_dir or "/",
        "USER": entry.pw_name,
        "LOGNAME": entry.pw_name,
        "SHELL": entry.pw_shell or "/bin/sh",
    }
