"""Script copies on a node: an array's tasks share one (its text is fixed at submit),
written when the first of them starts here and kept SCRIPT_KEEP_S after the last user ends,
for the array's next task. A mixin of the Executor."""

from __future__ import annotations

import contextlib
import os

from scns.daemon.home import remove_planted
from scns.daemon.tracked import Tracked
from scns.domain.job import Job

SCRIPT_KEEP_S = 2.0


class ScriptCopies:
    scripts: str
    script_users: dict[str, int]
    script_idle: dict[str, float]

    def _script_path(self, job: Job) -> str:
        return os.path.join(self.scripts, str(job.array_job_id or job.id))

    def _use_script(self, entry: Tracked, path: str) -> None:
        entry.script = path
        self.script_users[path] = self.script_users.get(path, 0) + 1
        self.script_idle.pop(path, None)

    def expire_scripts(self, now: float) -> None:
        """Remove script copies no job has used for SCRIPT_KEEP_S."""
        for path, since in list(self.script_idle.items()):
            if now - since >= SCRIPT_KEEP_S:
                self._drop_script(path)

    def _drop_script(self, path: str) -> None:
        self.script_idle.pop(path, None)
        self.script_users.pop(path, None)
        with contextlib.suppress(OSError):
            os.unlink(path)

    def _remove_unused_scripts(self) -> None:
        """Script copies nobody running uses (a daemon that died may have left them, maybe
        half written): gone, so they are written afresh when next needed."""
        with contextlib.suppress(OSError):
            for name in os.listdir(self.scripts):
                path = os.path.join(self.scripts, name)
                if not self.script_users.get(path):
                    self._drop_script(path)


def write_script(path: str, script: str, job: Job) -> None:
    """A fresh file, never through a link; the job's user owns it so it may execute it."""
    remove_planted(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o700)
    try:
        os.write(fd, script.encode(errors="surrogateescape"))
        if os.geteuid() == 0 and job.uid != 0:
            os.fchown(fd, job.uid, job.gid)
    finally:
        os.close(fd)
