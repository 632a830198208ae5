"""Slurm `--mem` sizes to whole megabytes and back to a short display form."""

from scns.errors import InvalidInput

# Bytes-free arithmetic: each unit's size in KiB, so K can be rounded up to whole MiB.
_UNIT_KB = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}
MAX_MEM_MB = 1024**3  # 1 PiB: anything larger is a typo, not a request


def _invalid(text: str, why: str) -> InvalidInput:
    return InvalidInput(f"invalid --mem {text!r}: {why}")


def parse_mem_mb(text: str) -> int:
    """Turn a Slurm `--mem` value (plain MB, or a K/M/G/T suffix, optional B) into MB."""
    digits = text.strip().upper()
    if digits.endswith("B") and len(digits) > 1 and digits[-2] in _UNIT_KB:
        digits = digits[:-1]
    unit = "M"
    if digits and digits[-1] in _UNIT_KB:
        digits, unit = digits[:-1], digits[-1]
    if not (digits.isascii() and digits.isdigit()):
        raise _invalid(text, "expected a whole number with an optional K, M, G or T suffix")
    if len(digits) > 20:  # also keeps int() clear of Python's huge-digit-string limit
        raise _invalid(text, "larger than 1024T")
    mem_kb = int(digits) * _UNIT_KB[unit]
    mem_mb = -(-mem_kb // 1024)  # round K up to whole megabytes
    if mem_mb <= 0:
        raise _invalid(text, "must be greater than zero")
    if mem_mb > MAX_MEM_MB:
        raise _invalid(text, "larger than 1024T")
    return mem_mb


def format_mem(mb: int) -> str:
    """Render megabytes in the largest unit that divides them exactly (512M, 4G, 2T)."""
    for unit, unit_mb in (("T", 1024**2), ("G", 1024)):
        if mb and mb % unit_mb == 0:
            return f"{mb // unit_mb}{unit}"
    return f"{mb}M"
