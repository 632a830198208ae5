"""Slurm filename patterns (`--output=slurm-%j.out`) expanded for one job."""

import re

NO_ARRAY_TASK_ID = 4294967294  # what Slurm prints for %a outside an array (its NO_VAL)
UNKNOWN_NODE = "unknown"
MAX_PAD_WIDTH = 9  # Slurm caps %<width> padding; wider asks are clamped
_NUMERIC = frozenset("jAa")
_TEXT = frozenset("xuN")
# "%%", or "%" + optional width + any letter; unknown letters are passed through untouched.
_PLACEHOLDER = re.compile(r"%(%|([0-9]*)([A-Za-z]))")


def _is_expansion(match: re.Match[str]) -> bool:
    return match.group(1) == "%" or match.group(3) in _NUMERIC | _TEXT


def has_placeholders(pattern: str) -> bool:
    """Whether expand_path_pattern() would substitute anything (a backslash disables it)."""
    return "\\" not in pattern and any(map(_is_expansion, _PLACEHOLDER.finditer(pattern)))


def expand_path_pattern(
    pattern: str,
    *,
    job_id: int,
    name: str,
    user: str,
    array_job_id: int | None = None,
    array_task_id: int | None = None,
    node: str | None = None,
) -> str:
    """Fill in %j %x %u %A %a %N and %% as Slurm does; `\\` anywhere turns expansion off.

    A width (`%4j`) zero-pads numbers only and is ignored for text, as in Slurm.
    """
    if "\\" in pattern:
        return pattern.replace("\\", "")
    numbers = {
        "j": job_id,
        "A": job_id if array_job_id is None else array_job_id,
        "a": NO_ARRAY_TASK_ID if array_task_id is None else array_task_id,
    }
    texts = {"x": name, "u": user, "N": UNKNOWN_NODE if node is None else node}

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) == "%":
            return "%"
        width_text, letter = match.group(2), match.group(3)
        if letter in texts:
            return texts[letter]
        if letter not in numbers:
            return match.group(0)
        width = min(int(width_text[:3] or 0), MAX_PAD_WIDTH)
        return str(numbers[letter]).zfill(width)

    return _PLACEHOLDER.sub(substitute, pattern)
