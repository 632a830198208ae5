"""``scns compat path``: a directory of Slurm command names, all one program.

The directory holds ``scns-slurm`` (a two-line script run by this interpreter) and links
``sbatch``, ``squeue``, ... to it. It is made once per interpreter and scns version in the
user's cache, written atomically, so concurrent first calls and upgrades never see half a
directory.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile

from scns import __version__
from scns.compat.entry import COMMANDS

LAUNCHER = "#!{python}\nimport sys\nfrom scns.compat.entry import main\nsys.exit(main())\n"


def bin_dir() -> str:
    """The directory, created if needed; its path is what ``scns compat path`` prints."""
    python = sys.executable
    key = hashlib.sha1(f"{python}\0{__version__}\0{_package_dir()}".encode()).hexdigest()[:12]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    target = os.path.join(cache, "scns", f"slurm-bin-{key}")
    if _complete(target):
        return target
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".slurm-bin-", dir=os.path.dirname(target))
    launcher = os.path.join(staging, "scns-slurm")
    with open(launcher, "w") as handle:
        handle.write(LAUNCHER.format(python=python))
    os.chmod(launcher, 0o755)
    for name in COMMANDS:
        os.symlink("scns-slurm", os.path.join(staging, name))
    os.chmod(staging, 0o755)
    try:
        os.rename(staging, target)
    except OSError:  # another process made it first
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return target


def _complete(path: str) -> bool:
    return all(os.path.exists(os.path.join(path, n)) for n in (*COMMANDS, "scns-slurm"))


def _package_dir() -> str:
    import scns

    return os.path.dirname(os.path.abspath(scns.__file__))
