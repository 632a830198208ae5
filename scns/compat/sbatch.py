"""``sbatch``: Slurm's submit, backed by scns's own (same options, ``#SBATCH`` lines).

Slurm's rules, where they differ from ``scns submit``: options after the script are the
script's arguments; the default output is ``slurm-%j.out``; with no script and no ``--wrap``
the script is read from stdin. Stdout holds exactly ``Submitted batch job N`` (or ``N``
with ``--parsable``): clients take the first integer of it.
"""

from __future__ import annotations

import sys

from scns.errors import ScnsError


def main(args: list[str]) -> int:
    from scns.cli.submit import _option_words, submit_args
    from scns.domain.options import USAGE

    if any(a in ("-h", "--help", "--usage") for a in _option_words(args)):
        sys.stdout.write(USAGE.replace("scns submit", "sbatch"))
        return 0
    try:
        script_text = None
        if not _has_script(args):
            script_text = sys.stdin.read()
            args = [*args, "sbatch"]  # the name Slurm gives a script read from stdin
        request, job_id, warnings = submit_args(args, output_prefix="slurm",
                                                script_text=script_text)  # fmt: skip
    except ScnsError as exc:
        sys.stderr.write(f"sbatch: error: {exc}\n")
        return 1
    except FileNotFoundError as exc:
        sys.stderr.write(f"sbatch: error: cannot submit: {exc}\n")
        return 1
    for warning in warnings:
        sys.stderr.write(f"sbatch: warning: {warning}\n")
    sys.stdout.write(f"{job_id}\n" if request.parsable else f"Submitted batch job {job_id}\n")
    sys.stdout.flush()
    if not request.wait:
        return 0
    from scns.cli.submit import wait_and_report

    return wait_and_report(job_id, "sbatch")


def _has_script(args: list[str]) -> bool:
    """A script file or --wrap among the words (else the script comes from stdin)."""
    from scns.domain.options import parse_args

    try:
        parsed = parse_args(args)
    except ScnsError:
        return True  # let the real parse report it
    return bool(parsed.positionals) or parsed.values.get("wrap") is not None
