"""sbatch's option table and the parser shared by the command line and ``#SBATCH`` lines.

One parser for both means a directive and a flag can never disagree about what an option is.
"""

from __future__ import annotations

from scns.domain.record import Record
from scns.errors import UsageError

# (long name, short letter or "", kind) — kind: "value", "flag", "optional" (value only via =)
_IMPLEMENTED: tuple[tuple[str, str, str], ...] = (
    ("cpus-per-task", "c", "value"),
    ("ntasks", "n", "value"),
    ("ntasks-per-node", "", "value"),
    ("cpus", "", "value"),
    ("job-name", "J", "value"),
    ("output", "o", "value"),
    ("error", "e", "value"),
    ("chdir", "D", "value"),
    ("time", "t", "value"),
    ("parsable", "", "flag"),
    ("wrap", "", "value"),
    ("mem", "", "value"),
    ("priority", "", "value"),
    ("nice", "", "optional"),
    ("dependency", "d", "value"),
    ("kill-on-invalid-dep", "", "value"),
    ("array", "a", "value"),
    ("hold", "H", "flag"),
    ("begin", "b", "value"),
    ("requeue", "", "flag"),
    ("no-requeue", "", "flag"),
    ("export", "", "value"),
    ("open-mode", "", "value"),
    ("signal", "", "value"),
    ("comment", "", "value"),
    ("wait", "W", "flag"),
    ("test-only", "", "flag"),
    ("mem-per-cpu", "", "value"),
    ("exclusive", "", "optional"),
    ("nodes", "N", "value"),
    ("gpus", "G", "value"),
    ("gpus-per-node", "", "value"),
    ("gpus-per-task", "", "value"),
    ("gres", "", "value"),
    ("help", "h", "flag"),
    ("usage", "", "flag"),
)

# Options sbatch has that scns accepts and ignores, with a warning naming them.
_SLURM_ONLY: tuple[tuple[str, str, str], ...] = (
    ("account", "A", "value"),
    ("acctg-freq", "", "value"),
    ("batch", "", "value"),
    ("bb", "", "value"),
    ("bbf", "", "value"),
    ("clusters", "M", "value"),
    ("cluster-constraint", "", "value"),
    ("constraint", "C", "value"),
    ("container", "", "value"),
    ("container-id", "", "value"),
    ("contiguous", "", "flag"),
    ("core-spec", "S", "value"),
    ("cores-per-socket", "", "value"),
    ("cpu-freq", "", "value"),
    ("cpus-per-gpu", "", "value"),
    ("deadline", "", "value"),
    ("delay-boot", "", "value"),
    ("distribution", "m", "value"),
    ("exclude", "x", "value"),
    ("export-file", "", "value"),
    ("extra", "", "value"),
    ("extra-node-info", "B", "value"),
    ("get-user-env", "", "optional"),
    ("gid", "", "value"),
    ("gpu-bind", "", "value"),
    ("gpu-freq", "", "value"),
    ("gpus-per-socket", "", "value"),
    ("gres-flags", "", "value"),
    ("hint", "", "value"),
    ("ignore-pbs", "", "flag"),
    ("input", "i", "value"),
    ("licenses", "L", "value"),
    ("mail-type", "", "value"),
    ("mail-user", "", "value"),
    ("mcs-label", "", "value"),
    ("mem-bind", "", "value"),
    ("mem-per-gpu", "", "value"),
    ("mincpus", "", "value"),
    ("network", "", "value"),
    ("no-kill", "k", "optional"),
    ("nodefile", "F", "value"),
    ("nodelist", "w", "value"),
    ("ntasks-per-core", "", "value"),
    ("ntasks-per-gpu", "", "value"),
    ("ntasks-per-socket", "", "value"),
    ("overcommit", "O", "flag"),
    ("oversubscribe", "s", "flag"),
    ("partition", "p", "value"),
    ("power", "", "value"),
    ("prefer", "", "value"),
    ("profile", "", "value"),
    ("propagate", "", "optional"),
    ("qos", "q", "value"),
    ("quiet", "Q", "flag"),
    ("reboot", "", "flag"),
    ("reservation", "", "value"),
    ("sockets-per-node", "", "value"),
    ("spread-job", "", "flag"),
    ("switches", "", "value"),
    ("thread-spec", "", "value"),
    ("threads-per-core", "", "value"),
    ("time-min", "", "value"),
    ("tmp", "", "value"),
    ("tres-bind", "", "value"),
    ("tres-per-task", "", "value"),
    ("uid", "", "value"),
    ("use-min-nodes", "", "flag"),
    ("verbose", "v", "flag"),
    ("wait-all-nodes", "", "value"),
    ("wckey", "", "value"),
)


# Options clients always send (submitit, Snakemake, Parsl, Nextflow): accepted without a
# warning. They name accounting and placement that one scns cluster does not have.
SILENT = frozenset({"account", "partition", "qos", "constraint", "clusters", "reservation",
                    "wckey", "mail-type", "mail-user", "get-user-env", "propagate", "exclude",
                    "distribution", "hint", "acctg-freq", "requeue"})  # fmt: skip


class OptionDef(Record):
    """One sbatch option: long name, short letter, kind (value, flag, optional)."""

    __slots__ = (
        "name",
        "short",
        "kind",
        "implemented",
    )
    name: str
    short: str
    kind: str
    implemented: bool


def _index() -> tuple[dict[str, OptionDef], dict[str, OptionDef]]:
    by_long: dict[str, OptionDef] = {}
    by_short: dict[str, OptionDef] = {}
    for table, implemented in ((_IMPLEMENTED, True), (_SLURM_ONLY, False)):
        for name, short, kind in table:
            opt = OptionDef(name, short, kind, implemented)
            by_long[name] = opt
            if short:
                by_short[short] = opt
    return by_long, by_short


BY_LONG, BY_SHORT = _index()


class ParsedArgs:
    """Raw option values by long name (last one wins), plus what followed the options."""

    __slots__ = ("ignored", "positionals", "values")

    def __init__(self) -> None:
        self.values: dict[str, str | bool] = {}
        self.ignored: list[str] = []  # Slurm options scns does not implement
        self.positionals: list[str] = []


def parse_args(args: list[str], *, where: str = "command line",
               anywhere: bool = False) -> ParsedArgs:  # fmt: skip
    """Parse sbatch-style options.

    sbatch's rule (the default, and for ``#SBATCH`` lines): the first non-option word starts
    the script and its arguments. ``anywhere`` (``scns submit``): options are recognised
    before and after the script, other words are the script's arguments, and everything
    after ``--`` goes to the script untouched.
    """
    parsed = ParsedArgs()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            parsed.positionals += args[i + 1 :]
            break
        if arg.startswith("--"):
            i = _take_long(args, i, parsed, where)
        elif arg.startswith("-") and len(arg) > 1:
            i = _take_short(args, i, parsed, where)
        elif anywhere:
            parsed.positionals.append(arg)
            i += 1
        else:
            parsed.positionals = args[i:]
            break
    return parsed


def _take_long(args: list[str], i: int, parsed: ParsedArgs, where: str) -> int:
    name, eq, inline = args[i][2:].partition("=")
    opt = BY_LONG.get(name)
    if opt is None:
        raise UsageError(f"unrecognized option '--{name}' in {where} (see `scns submit --help`)")
    if opt.kind == "flag":
        if eq:
            raise UsageError(f"option '--{name}' takes no value in {where}")
        _store(parsed, opt, True)
        return i + 1
    if opt.kind == "optional":
        _store(parsed, opt, inline if eq else True)
        return i + 1
    if eq:
        _store(parsed, opt, inline)
        return i + 1
    if i + 1 >= len(args):
        raise UsageError(f"option '--{name}' requires a value in {where}")
    _store(parsed, opt, args[i + 1])
    return i + 2


def _take_short(args: list[str], i: int, parsed: ParsedArgs, where: str) -> int:
    letters = args[i][1:]
    for pos, letter in enumerate(letters):
        opt = BY_SHORT.get(letter)
        if opt is None:
            raise UsageError(f"invalid option '-{letter}' in {where} (see `scns submit --help`)")
        if opt.kind in ("flag", "optional"):
            _store(parsed, opt, True)
            continue
        rest = letters[pos + 1 :]
        if rest:  # -c4 or -c=4 (sbatch tolerates neither '=' form; we strip it)
            _store(parsed, opt, rest[1:] if rest.startswith("=") else rest)
            return i + 1
        if i + 1 >= len(args):
            raise UsageError(f"option '-{letter}' requires a value in {where}")
        _store(parsed, opt, args[i + 1])
        return i + 2
    return i + 1


def _store(parsed: ParsedArgs, opt: OptionDef, value: str | bool) -> None:
    if opt.implemented:
        name = "ntasks" if opt.name == "ntasks-per-node" else opt.name
        parsed.values[name] = value
    elif opt.name not in parsed.ignored and opt.name not in SILENT:
        parsed.ignored.append(opt.name)


USAGE = """\
Usage: scns submit [OPTIONS] SCRIPT [ARGS...]
       scns submit [OPTIONS] --wrap "COMMAND"

Submit a batch job, as sbatch does. Options may also be given in '#SBATCH' or '#SCNS' lines
at the top of the script; the command line overrides them.

Options:
  -c, --cpus-per-task N    CPUs per task (default 1)
  -n, --ntasks N           tasks (default 1; alias --ntasks-per-node)
      --cpus N             total CPUs (shortcut; not together with -c/-n)
      --mem SIZE           memory for the job (K/M/G/T suffix; default unit M)
  -J, --job-name NAME      job name (default: the script's file name, or "wrap")
  -o, --output PATTERN     stdout file (default scns-%j.out; %j id, %x name, %u user,
                           %A array id, %a task id, %% a percent sign)
  -e, --error PATTERN      stderr file (default: into the output file)
  -D, --chdir DIR          working directory (default: the current directory)
  -t, --time TIME          time limit: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S or UNLIMITED
  -a, --array SPEC         job array: 0-15, 1,3,5, 0-15:4, optional %N to run N at once
  -d, --dependency LIST    after:ID, afterok:ID, afternotok:ID, afterany:ID, singleton
      --kill-on-invalid-dep yes|no
                           cancel the job when its dependency can never be met
  -H, --hold               submit held (release with `scns release ID`)
  -b, --begin TIME         start no earlier than: now+1hour, 16:00, 2026-12-01T08:00
      --priority N         priority (higher runs first)
      --nice[=N]           lower the priority by N (default 100)
      --requeue            requeue instead of NODE_FAIL when the node fails
      --export ALL|NONE|VARS
                           the environment the job gets (default ALL; NAME=value sets one)
      --open-mode append|truncate
                           append to the output files instead of replacing them
      --signal [B:]SIG[@TIME]
                           send SIG TIME seconds (default 60) before the time limit
      --mem-per-cpu SIZE   memory per CPU (instead of --mem)
      --exclusive          the job gets a whole node
  -N, --nodes 1            one node (scns runs each job on one node)
      --comment TEXT       a comment shown by sacct
  -W, --wait               wait for the job to end; exit with its exit code
      --test-only          submit nothing: print when and where the job would start
      --wrap COMMAND       run COMMAND under /bin/sh instead of a script file
      --parsable           print only the job id
  -h, --help               show this message

Accepted and ignored without a warning (one scns cluster has no accounts, partitions or
QOS): -A/--account, -p/--partition, --qos, -C/--constraint, -M/--clusters, --reservation,
--wckey, --mail-type, --mail-user, --exclude. Other sbatch options are accepted with a
warning that they were ignored; GPUs (--gpus, --gres=gpu) are refused.

Example:
  scns submit --cpus 4 -t 1:00:00 -o 'logs/%x-%j.out' job.sh input.dat
"""
