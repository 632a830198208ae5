"""``srun`` inside a job: a job step run in the job's own allocation.

The job already holds its CPUs, and its processes already live in its cgroup (or process
group), so a step is the command forked here, once per task, and waited for. Nothing asks
the scheduler or the database: a new job could wait forever behind the very job that holds
every CPU. The exit status is the highest of the tasks' (128+N for a signal, as a shell
reports it). Outside a job (no ``SLURM_JOB_ID``) srun refuses: interactive jobs are not
supported yet. This module reads the command line; srun_tasks.py runs the step.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

from scns.compat import slurm_format as fmt
from scns.compat.srun_tasks import run_step
from scns.errors import InvalidInput

_VALUE = "required"
# Accepted and ignored: they ask for what the job's allocation already is, or tune what scns
# does not model (binding, MPI plugins, output labels, accounting).
_IGNORED_WITH_VALUE = """cpu-bind mem mem-per-cpu mem-per-gpu mpi gres gpus-per-node gpus-per-task
    cpus-per-gpu job-name partition account qos constraint distribution comment wckey
    reservation signal threads-per-core cpu-freq network time time-min wait nodelist exclude
    relative hint mem-bind gpu-bind clusters core-spec sockets-per-node cores-per-socket
    ntasks-per-core ntasks-per-socket ntasks-per-gpu licenses tmp priority begin dependency
    mail-type mail-user tres-per-task thread-spec profile mcs-label slurmd-debug accel-bind
    het-group container switches deadline prolog epilog task-prolog task-epilog"""
_IGNORED_OPTIONAL_VALUE = "nice exclusive immediate propagate bcast compress resv-ports send-libs"
_IGNORED_FLAGS = """overlap exact whole overcommit spread-job use-min-nodes contiguous
    disable-status preserve-env test-only reboot unbuffered label verbose no-kill"""
_OPTIONS = (
    fmt.Option("ntasks", "n", ("ntasks",), _VALUE),
    fmt.Option("cpus_per_task", "c", ("cpus-per-task",), _VALUE),
    fmt.Option("nodes", "N", ("nodes",), _VALUE),
    fmt.Option("ntasks_per_node", None, ("ntasks-per-node", "tasks-per-node"), _VALUE),
    fmt.Option("output", "o", ("output",), _VALUE),
    fmt.Option("error", "e", ("error",), _VALUE),
    fmt.Option("input", "i", ("input",), _VALUE),
    fmt.Option("chdir", "D", ("chdir",), _VALUE),
    fmt.Option("export", None, ("export",), _VALUE),
    fmt.Option("open_mode", None, ("open-mode",), _VALUE),
    fmt.Option("jobid", None, ("jobid",), _VALUE),
    fmt.Option("kill_on_bad_exit", "K", ("kill-on-bad-exit",), "optional"),
    fmt.Option("quiet", "Q", ("quiet",)),
    fmt.Option("help", "h", ("help", "usage")),
    fmt.Option("version", "V", ("version",)),
    fmt.Option("ignored", None, tuple(_IGNORED_WITH_VALUE.split()), _VALUE),
    fmt.Option("ignored", None, tuple(_IGNORED_OPTIONAL_VALUE.split()), "optional"),
    fmt.Option("ignored", None, tuple(_IGNORED_FLAGS.split()), "none"),
    fmt.Option("refused", None, ("pty", "x11", "multi-prog", "uid", "gid"), "optional"),
)
# Short forms of accepted options: flags (-u -l -v ...), and those taking a value (-J -p ...).
_FLAG_SHORTS = "ulvXEOkZsH"
_VALUE_SHORTS = "JpAqCmtWwxrdbLSGMBTg"


class Step(NamedTuple):
    """What one srun command line asks for."""

    command: list[str]
    ntasks: int
    cpus_per_task: int | None
    output: str | None
    error: str | None
    input: str | None
    chdir: str | None
    export: str | None
    append: bool
    kill_on_bad_exit: bool
    quiet: bool


def main(args: list[str]) -> int:
    env = os.environ
    try:
        values, command = parse_command_line(args)
        if "help" in values or "version" in values:
            sys.stdout.write(f"slurm {fmt.SLURM_VERSION}\n" if "version" in values else _USAGE)
            return 0
        job_id = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
        if not job_id:
            raise InvalidInput("interactive jobs are not supported by scns yet; use sbatch")
        if values.get("jobid") not in (None, job_id):
            raise InvalidInput("running a step of another job (--jobid) is not supported by scns")
        step = _step(values, command, env)
        task_env = exported_environment(step.export, env)
    except InvalidInput as exc:
        sys.stderr.write(f"srun: error: {exc}\n")
        return 1
    return run_step(step, job_id, task_env, env)


_USAGE = "Usage: srun [-n NTASKS] [-c CPUS] [-o OUT] [-e ERR] [-D DIR] COMMAND [ARGS...]\n"


def parse_command_line(args: list[str]) -> tuple[dict[str, str | None], list[str]]:
    """Options up to the first word that is not one (the command), as srun's getopt stops
    there: ``srun -n2 python -u x.py`` leaves ``-u`` to python."""
    by_long = {name: o for o in _OPTIONS for name in o.longs}
    by_short = {o.short: o for o in _OPTIONS if o.short}
    values: dict[str, str | None] = {}
    option: fmt.Option | None
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        arg, i = args[i], i + 1
        if arg == "--":
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            option = by_long.get(name) or _unique(name, by_long)
            if option.key == "refused":
                raise InvalidInput(f"--{name} is not supported by scns")
            if option.value == _VALUE and not eq:
                if i >= len(args):
                    raise InvalidInput(f"option '--{name}' requires an argument")
                value, i = args[i], i + 1
            elif option.value == "none" and eq:
                raise InvalidInput(f"option '--{name}' doesn't allow an argument")
            values[option.key] = value if (eq or option.value == _VALUE) else None
            continue
        at = 1
        while at < len(arg):
            letter, rest = arg[at], arg[at + 1 :]
            option = by_short.get(letter)
            if option is None and letter in _FLAG_SHORTS:
                at += 1
                continue
            if option is None and letter == "I":  # --immediate[=secs]
                break
            if option is None and letter not in _VALUE_SHORTS:
                raise InvalidInput(f"invalid option -- '{letter}'")
            if option is not None and option.value == "none":
                values[option.key] = None
                at += 1
                continue
            if option is not None and option.value == "optional":
                values[option.key] = rest or None
                break
            if not rest:
                if i >= len(args):
                    raise InvalidInput(f"option requires an argument -- '{letter}'")
                rest, i = args[i], i + 1
            if option is not None:
                values[option.key] = rest
            break
    return values, args[i:]


def _unique(name: str, by_long: dict) -> fmt.Option:
    matches = {o.key + "/" + full: o for full, o in by_long.items() if full.startswith(name)}
    if name and len(matches) == 1:
        return next(iter(matches.values()))
    raise InvalidInput(f"unrecognized option '--{name}'" if not matches else
                       f"option '--{name}' is ambiguous")  # fmt: skip


def _step(values: dict[str, str | None], command: list[str], env) -> Step:
    if not command:
        raise InvalidInput("No command given to execute.")
    nodes = values.get("nodes") or "1"
    if nodes.partition("-")[0] != "1":
        raise InvalidInput(f"--nodes={nodes}: a job runs on one node under scns")
    tasks = values.get("ntasks") or values.get("ntasks_per_node") or env.get("SLURM_NTASKS")
    ntasks = _positive(tasks or "1", "--ntasks")
    cpus = values.get("cpus_per_task")
    mode = (values.get("open_mode") or env.get("SLURM_OPEN_MODE") or "t").lower()
    if mode[:1] not in ("a", "t"):
        raise InvalidInput(f"invalid --open-mode {mode!r}: expected append or truncate")
    return Step(command, ntasks, _positive(cpus, "--cpus-per-task") if cpus else None,
                values.get("output"), values.get("error"), values.get("input"),
                values.get("chdir"), values.get("export"), mode.startswith("a"),
                "kill_on_bad_exit" in values and values["kill_on_bad_exit"] != "0",
                "quiet" in values)  # fmt: skip


def _positive(text: str, option: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise InvalidInput(f"invalid {option} {text!r}: expected a positive number")
    return int(text)


def exported_environment(spec: str | None, env) -> dict[str, str]:
    """--export for the tasks: ALL by default; with NONE or a list the job's SLURM_*
    variables still reach them, as in Slurm."""
    if spec is None or spec.strip().upper() == "ALL":
        return dict(env)
    from scns.domain.export import apply_export

    chosen = apply_export(env, spec)
    chosen.update({k: v for k, v in env.items() if k.startswith("SLURM_")})
    return chosen
