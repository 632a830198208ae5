"""Slurm filename patterns (`--output=slurm-%j.out`) expanded for one job.

Scanned by hand rather than with a regular expression: every ``scns submit`` expands its
output paths, and importing ``re`` would cost it ~3 ms.
"""

NO_ARRAY_TASK_ID = 4294967294  # what Slurm prints for %a outside an array (its NO_VAL)
UNKNOWN_NODE = "unknown"
MAX_PAD_WIDTH = 9  # Slurm caps %<width> padding; wider asks are clamped
_NUMERIC = frozenset("jAa")
_TEXT = frozenset("xuN")
_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def placeholders(pattern: str) -> list[tuple[int, int, str, str]]:
    """(start, end, width, letter) of each ``%%`` or ``%<digits><letter>``, left to right.

    The same matches as the regex ``%(%|([0-9]*)([A-Za-z]))``; ``%%`` has the letter ``%``.
    Unknown letters are found too (and passed through untouched by the expansion).
    """
    found = []
    i, n = 0, len(pattern)
    while (i := pattern.find("%", i)) >= 0 and i + 1 < n:
        if pattern[i + 1] == "%":
            found.append((i, i + 2, "", "%"))
            i += 2
            continue
        j = i + 1
        while j < n and pattern[j] in _DIGITS:
            j += 1
        if j < n and pattern[j] in _LETTERS:
            found.append((i, j + 1, pattern[i + 1 : j], pattern[j]))
            i = j + 1
        else:
            i += 1
    return found


def has_placeholders(pattern: str) -> bool:
    """Whether expand_path_pattern() would substitute anything (a backslash disables it)."""
    return "\\" not in pattern and any(
        letter == "%" or letter in _NUMERIC or letter in _TEXT
        for _s, _e, _w, letter in placeholders(pattern)
    )


def expand_path_pattern(
    pattern: str,
    *,
    job_id: int | str,
    name: str,
    user: str,
    array_job_id: int | None = None,
    array_task_id: int | str | None = None,
    node: str | None = None,
) -> str:
    """Fill in %j %x %u %A %a %N and %% as Slurm does; `\\` anywhere turns expansion off.

    A width (`%4j`) zero-pads numbers only and is ignored for text, as in Slurm. A string
    given for a number (an array's stand-in, see scns.service.store) is put in as it is.
    """
    if "\\" in pattern:
        return pattern.replace("\\", "")
    numbers = {
        "j": job_id,
        "A": job_id if array_job_id is None else array_job_id,
        "a": NO_ARRAY_TASK_ID if array_task_id is None else array_task_id,
    }
    texts = {"x": name, "u": user, "N": UNKNOWN_NODE if node is None else node}
    out = []
    done = 0
    for start, end, width_text, letter in placeholders(pattern):
        out.append(pattern[done:start])
        done = end
        if letter == "%":
            out.append("%")
        elif letter in texts:
            out.append(texts[letter])
        elif letter in numbers:
            width = min(int(width_text[:3] or 0), MAX_PAD_WIDTH)
            out.append(str(numbers[letter]).zfill(width))
        else:
            out.append(pattern[start:end])
    out.append(pattern[done:])
    return "".join(out)
