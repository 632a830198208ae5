"""Throwaway unix users for the multi-user tests: created per test module, removed after.

Needs root (CI runs as root); without it the tests that use them skip and say why.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import stat
import subprocess
import sys
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str  # a private work directory (0700, owned by the user)

    def run(self, argv: list[str], *, env: dict[str, str], cwd: str | None = None,
            umask: int = 0o022, timeout: float = 120, input: str | None = None,
            ) -> subprocess.CompletedProcess:  # fmt: skip
        """Run a command as this user, with the groups its account gives it."""
        return subprocess.run(
            argv, capture_output=True, text=True, env=env, cwd=cwd or self.home,
            user=self.uid, group=self.gid, extra_groups=list(self.groups), umask=umask,
            timeout=timeout, input=input,
        )  # fmt: skip


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: creates throwaway unix users and runs a system-mode daemon")


class Accounts:
    """Creates users and groups with a random prefix and removes exactly those."""

    def __init__(self, base: str) -> None:
        self.prefix = "scns" + secrets.token_hex(3)
        self.base = base  # where the users' work directories go (0755, root's)
        self.users: list[str] = []
        self.groups: list[str] = []
        self._modes: dict[str, int] = {}

    def group(self, suffix: str) -> str:
        name = f"{self.prefix}{suffix}"
        subprocess.run(["groupadd", name], check=True, capture_output=True)
        self.groups.append(name)
        return name

    def user(self, suffix: str, *, groups: tuple[str, ...] = ()) -> User:
        name = f"{self.prefix}{suffix}"
        argv = ["useradd", "-M", "-s", "/bin/sh", "-d", os.path.join(self.base, name), "-U"]
        if groups:
            argv += ["-G", ",".join(groups)]
        subprocess.run([*argv, name], check=True, capture_output=True)
        self.users.append(name)
        entry = pwd.getpwnam(name)
        home = os.path.join(self.base, name)
        os.makedirs(home, mode=0o700, exist_ok=True)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        return User(name, entry.pw_uid, entry.pw_gid,
                    tuple(os.getgrouplist(name, entry.pw_gid)), home)  # fmt: skip

    def let_users_run_python(self) -> None:
        """The test venv may live under a private directory (/root): let users search the
        directories on the way to the interpreter and the code, restored afterwards."""
        import scns

        targets = {os.path.realpath(sys.executable), os.path.realpath(scns.__file__)}
        for target in targets:
            path = os.path.dirname(target)
            while path and path != "/":
                mode = stat.S_IMODE(os.stat(path).st_mode)
                if not mode & stat.S_IXOTH and path not in self._modes:
                    self._modes[path] = mode
                    os.chmod(path, mode | stat.S_IXOTH)
                path = os.path.dirname(path)

    def remove(self) -> None:
        for name in self.users:
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
            subprocess.run(["userdel", "-f", name], capture_output=True)
        for name in self.groups:
            subprocess.run(["groupdel", name], capture_output=True)
        for path, mode in self._modes.items():
            with contextlib.suppress(OSError):
                os.chmod(path, mode)
