"""The daemon's state directory: private to the daemon's user, nothing in it followed.

Personal mode refuses a home it does not own or that others may write (anyone who can write
it can run jobs as its owner); system mode keeps ``/var/lib/scns`` root-owned and 0700. Any
directory scns itself creates is 0700, so no other user can plant a link or a file where the
daemon looks.
"""

from __future__ import annotations

import contextlib
import os
import stat

from scns.errors import InvalidInput

_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


def prepare_home(home: str, run_dir: str, database_path: str | None) -> None:
    """Create or check the home, its run directory and the embedded database file."""
    _own_dir(home, create=True, tighten=False)
    private_dir(run_dir)
    private_dir(os.path.join(run_dir, "wake"))
    if database_path:
        for path in (database_path, database_path + "-wal", database_path + "-shm"):
            private_file(path)


def private_dir(path: str) -> None:
    """A directory only the daemon's user may use: created 0700, an existing one of ours is
    tightened to 0700 (older versions made some world-writable), anything else refused."""
    _own_dir(path, create=True, tighten=True)


def private_file(path: str) -> None:
    """An existing state file of ours is made 0600 (it holds users' environments)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(f"refusing to use {path}: not a regular file (a link?)")
    if info.st_uid != os.geteuid():
        raise InvalidInput(f"refusing to use {path}: owned by uid {info.st_uid}, not by us")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o600, follow_symlinks=False)


def _own_dir(path: str, *, create: bool, tighten: bool) -> None:
    if create:
        with contextlib.suppress(FileExistsError):
            parent = os.path.dirname(path.rstrip("/"))
            if parent and not os.path.isdir(parent):
                os.makedirs(parent, mode=0o700, exist_ok=True)
            os.mkdir(path, 0o700)
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise InvalidInput(f"cannot use {path}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise InvalidInput(f"refusing to use {path}: not a directory (a symlink?)")
    if info.st_uid != os.geteuid():
        raise InvalidInput(
            f"refusing to use {path}: owned by uid {info.st_uid}, not by this daemon's"
            f" uid {os.geteuid()}"
        )
    mode = stat.S_IMODE(info.st_mode)
    if tighten and mode & 0o077:
        os.chmod(path, 0o700)
    elif mode & _WRITABLE_BY_OTHERS:
        raise InvalidInput(
            f"refusing to use {path}: it is writable by other users (mode {mode:o});"
            f" run chmod go-w {path}"
        )


def remove_planted(path: str) -> None:
    """Whatever sits where the daemon is about to create a file (a stale file, a link, a
    directory) goes, without following anything: it can neither redirect the write nor
    stop the launch."""
    import shutil

    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
