"""Turning ``scns submit`` arguments into stored jobs.

Everything is validated before anything is written, and the write is one transaction: a
bad submission leaves the database exactly as it was.
"""

from __future__ import annotations

import os
import stat

from scns.domain.job import JobRequest
from scns.domain.options import ParsedArgs, parse_args
from scns.domain.record import Record
from scns.errors import InvalidInput

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc loads collections (~2 ms a command)
    from collections.abc import Mapping

WRAP_SHELL = "#!/bin/sh\n"
_CPU_OPTIONS = ("cpus", "cpus-per-task", "ntasks")


class SubmitContext(Record):
    """Who submits, from where, when: read once at the edge and passed in."""

    __slots__ = ("cwd", "env", "now", "umask")
    _defaults = {"umask": None}  # noqa: RUF012
    cwd: str
    env: Mapping[str, str]
    now: float
    umask: int | None


def build_request(args: list[str], ctx: SubmitContext, *, script_text: str | None = None,
                  check_paths: bool = True, output_prefix: str = "scns",
                  options_anywhere: bool = False) -> JobRequest:  # fmt: skip
    """Parse the command line and the script's directives into one validated request.

    Through the system socket the daemon gets the script's text (the client read it as the
    user) and does not check the user's directories (``check_paths``): the job enters them
    as the user, after privileges are dropped, and fails with the reason if it cannot.
    """
    cli = parse_args(args, anywhere=options_anywhere)
    if cli.values.get("wrap") is not None:
        if cli.positionals:
            raise InvalidInput("script arguments are not allowed with --wrap")
        script = WRAP_SHELL + str(cli.values["wrap"]) + "\n"
        argv: tuple[str, ...] = ()
        default_name = "wrap"
    else:
        if not cli.positionals:
            raise InvalidInput("no batch script given (use SCRIPT or --wrap COMMAND)")
        path = cli.positionals[0]
        if script_text is None:
            script = read_script(path if os.path.isabs(path) else os.path.join(ctx.cwd, path))
        else:
            script = _sent_script(path, script_text)
        argv = tuple(cli.positionals[1:])
        default_name = os.path.basename(path)
    values = merge_options(_directive_args(script), cli)
    return _request(values, script, argv, default_name, cli.ignored, ctx, check_paths,
                    output_prefix)  # fmt: skip


def _sent_script(path: str, text: str) -> str:
    """A script's text as a client sent it, held to the rules ``read_script`` applies."""
    from scns.domain.directives import check_script_text

    data = text.encode(errors="surrogateescape")
    if len(data) > 10 * 1024 * 1024:
        raise InvalidInput(f"batch script {path} is larger than 10 MiB")
    try:
        return check_script_text(data)
    except InvalidInput as exc:
        raise InvalidInput(f"batch script {path}: {exc}") from None


def read_script(path: str) -> str:
    """The script's text, refused as sbatch refuses it (missing, directory, binary, empty).

    Only a regular file is read: a FIFO, a device or a directory is refused without
    blocking (opened non-blocking, then checked on the open file, so nothing can be
    swapped in between).
    """
    from scns.domain.directives import check_script_text

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidInput(f"batch script {path} does not exist") from None
    except PermissionError:
        raise InvalidInput(f"batch script {path} is not readable") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read batch script {path}: {exc.strerror}") from None
    try:
        kind = _file_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise InvalidInput(f"batch script {path} is {kind}, not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_SCRIPT_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read batch script {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_SCRIPT_BYTES:
        raise InvalidInput(f"batch script {path} is larger than 10 MiB")
    try:
        return check_script_text(data)
    except InvalidInput as exc:
        raise InvalidInput(f"batch script {path}: {exc}") from None


MAX_SCRIPT_BYTES = 10 * 1024 * 1024


def _file_kind(mode: int) -> str | None:
    """What a file is, in words, when it is not a regular file (None when it is)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "an unusual file"


def _directive_args(script: str) -> ParsedArgs:
    from scns.domain.directives import read_directives

    tokens = read_directives(script)
    if not tokens:
        return ParsedArgs()
    parsed = parse_args(tokens, where="#SBATCH line")
    if parsed.positionals:
        raise InvalidInput(f"unexpected argument {parsed.positionals[0]!r} in #SBATCH line")
    return parsed


def merge_options(directives: ParsedArgs, cli: ParsedArgs) -> dict[str, str | bool]:
    """Command line over directives; --cpus and -c/-n replace each other across sources."""
    for source in (directives, cli):
        if "cpus" in source.values and (
            "cpus-per-task" in source.values or "ntasks" in source.values
        ):
            raise InvalidInput("--cpus cannot be combined with -c/--cpus-per-task or -n/--ntasks")
    merged = dict(directives.values)
    if "cpus" in cli.values:
        merged.pop("cpus-per-task", None)
        merged.pop("ntasks", None)
    elif "cpus-per-task" in cli.values or "ntasks" in cli.values:
        merged.pop("cpus", None)
    merged.update(cli.values)
    merged["__ignored__"] = ",".join(dict.fromkeys(directives.ignored + cli.ignored))
    return merged


def positive_int(value: str | bool, option: str, *, minimum: int = 1) -> int:
    text = str(value).strip()
    try:
        number = int(text)
    except ValueError:
        raise InvalidInput(f"invalid {option} {text!r}: expected a whole number") from None
    if number < minimum:
        raise InvalidInput(f"invalid {option} {text!r}: must be at least {minimum}")
    if number > 1_000_000:
        raise InvalidInput(f"invalid {option} {text!r}: too large")
    return number


def _signed_int(value: str | bool, option: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidInput(f"invalid {option} {value!r}: expected a whole number") from None
    if abs(number) > 2_000_000_000:
        raise InvalidInput(f"invalid {option} {value!r}: out of range")
    return number


def _cpu_shape(values: Mapping[str, str | bool]) -> tuple[int, int]:
    """(ntasks, cpus_per_task) from -n/-c or the --cpus shortcut."""
    if "cpus" in values:
        return 1, positive_int(values["cpus"], "--cpus")
    ntasks = positive_int(values.get("ntasks", "1"), "--ntasks")
    per_task = positive_int(values.get("cpus-per-task", "1"), "--cpus-per-task")
    return ntasks, per_task


def _text(values: Mapping[str, str | bool], name: str) -> str | None:
    value = values.get(name)
    if value is None:
        return None
    if value is True or value == "":
        raise InvalidInput(f"option --{name} needs a value")
    return str(value)


def _request(values, script, argv, default_name, ignored, ctx: SubmitContext,
             check_paths: bool = True, output_prefix: str = "scns") -> JobRequest:  # fmt: skip
    from scns.domain import timespec

    ntasks, per_task = _cpu_shape(values)
    name = _text(values, "job-name") or default_name
    _check_name(name)
    workdir = _workdir(_text(values, "chdir"), ctx, check_paths)
    time_limit = None
    if "time" in values:
        time_limit = timespec.parse_time_limit(str(values["time"]))
    extra = _scheduling_fields(values, ctx)
    array = extra.pop("array", None)
    if output_prefix not in ("scns", "slurm"):
        raise InvalidInput(f"invalid output prefix {output_prefix!r}")
    default_out = f"{output_prefix}-%A_%a.out" if array else f"{output_prefix}-%j.out"
    return JobRequest(
        name=name,
        script=script,
        argv=argv,
        workdir=workdir,
        stdout_pattern=_text(values, "output") or default_out,
        stderr_pattern=_text(values, "error"),
        ntasks=ntasks,
        cpus_per_task=per_task,
        time_limit_s=time_limit,
        parsable=bool(values.get("parsable")),
        array_task_ids=array.task_ids if array else None,
        array_max_running=array.max_running if array else None,
        ignored_options=tuple(o for o in str(values.get("__ignored__", "")).split(",") if o),
        **extra,
    )


def _scheduling_fields(values: Mapping[str, str | bool], ctx: SubmitContext) -> dict:
    """Options that shape when and in what order a job runs (issue: scheduling)."""
    fields: dict = {}
    if "mem" in values and "mem-per-cpu" in values:
        raise InvalidInput("--mem and --mem-per-cpu are mutually exclusive")
    if "mem" in values:
        from scns.domain.sizes import parse_mem_mb

        fields["mem_mb"] = parse_mem_mb(str(values["mem"]))
    if "mem-per-cpu" in values:
        from scns.domain.sizes import parse_mem_mb

        ntasks, per_task = _cpu_shape(values)
        fields["mem_mb"] = parse_mem_mb(str(values["mem-per-cpu"])) * ntasks * per_task
    if "priority" in values:
        fields["priority"] = _signed_int(values["priority"], "--priority")
    if "nice" in values:
        fields["nice"] = 100 if values["nice"] is True else _signed_int(values["nice"], "--nice")
    if values.get("hold"):
        fields["held"] = True
    if "begin" in values:
        fields["begin_time"] = _begin(str(values["begin"]), ctx.now)
    if "dependency" in values:
        from scns.domain.dependency import format_dependency, parse_dependency

        fields["dependency"] = format_dependency(parse_dependency(str(values["dependency"])))
    if "kill-on-invalid-dep" in values:
        fields["kill_on_invalid_dep"] = _yes_no(values["kill-on-invalid-dep"])
    if values.get("requeue"):
        fields["requeue"] = True
    if values.get("no-requeue"):
        fields["requeue"] = False
    if "array" in values:
        from scns.domain.arrayspec import parse_array

        fields["array"] = parse_array(str(values["array"]))
    fields.update(_slurm_fields(values))
    return fields


def _slurm_fields(values: Mapping[str, str | bool]) -> dict:
    """What Slurm's clients send: --export, --open-mode, --signal, --comment, --exclusive,
    --wait, -N; GPUs are refused (running without them would be wrong)."""
    fields: dict = {}
    if "export" in values:
        from scns.domain.export import apply_export

        spec = str(values["export"])
        apply_export({}, spec)  # refuse a malformed list here, before anything is stored
        fields["export"] = spec
    if "open-mode" in values:
        mode = str(values["open-mode"]).strip().lower()
        if mode not in ("append", "truncate"):
            raise InvalidInput(f"invalid --open-mode {values['open-mode']!r}: append or truncate")
        fields["open_mode"] = mode
    if "signal" in values:
        from scns.domain.signals import parse_signal_spec

        text = str(values["signal"])
        parse_signal_spec(text)
        fields["signal_spec"] = text.strip()
    if "comment" in values:
        fields["comment"] = str(values["comment"])[:1000]
    if values.get("exclusive"):
        fields["exclusive"] = True
    if values.get("wait"):
        fields["wait"] = True
    if "nodes" in values:
        low, _, high = str(values["nodes"]).partition("-")
        if low.strip() not in ("1", "") or high.strip() not in ("", "1"):
            raise InvalidInput(f"invalid --nodes {values['nodes']!r}: scns runs each job on one"
                               " node (Requested node configuration is not available)")  # fmt: skip
    for name in ("gpus", "gpus-per-node", "gpus-per-task", "gres"):
        if name in values and _asks_for_gpus(name, str(values[name])):
            raise InvalidInput(f"--{name}={values[name]}: scns does not schedule GPUs"
                               " (Requested node configuration is not available)")  # fmt: skip
    return fields


def _asks_for_gpus(name: str, value: str) -> bool:
    text = value.strip().lower()
    if name == "gres":
        return "gpu" in text and not text.endswith(":0")
    return text not in ("0", "none", "")


def _begin(text: str, now: float) -> float:
    import datetime as dt

    from scns.domain.begin import parse_begin

    local_now = dt.datetime.fromtimestamp(now).astimezone()
    return parse_begin(text, local_now).timestamp()


def _yes_no(value: str | bool) -> bool:
    text = str(value).strip().lower()
    if text in ("yes", "y", "1", "true"):
        return True
    if text in ("no", "n", "0", "false"):
        return False
    raise InvalidInput(f"invalid --kill-on-invalid-dep {value!r}: expected yes or no")


def _check_name(name: str) -> None:
    if len(name) > 200:
        raise InvalidInput("job name is longer than 200 characters")
    if any(ord(ch) < 32 for ch in name):
        raise InvalidInput("job name contains control characters")


def expand_home(path: str, env: Mapping[str, str]) -> str:
    """``~/x`` against the submitter's HOME (never the daemon's), ``~user/x`` as usual."""
    if path == "~" or path.startswith("~/"):
        home = env.get("HOME")
        if home:
            return home + path[1:]
    return os.path.expanduser(path)


def _workdir(chdir: str | None, ctx: SubmitContext, check: bool = True) -> str:
    cwd = ctx.cwd
    path = os.path.abspath(os.path.join(cwd, expand_home(chdir, ctx.env))) if chdir else cwd
    if check and not os.path.isdir(path):
        raise InvalidInput(f"working directory {path} does not exist or is not a directory")
    return path
