"""``sinfo``: scns's nodes as Slurm shows them, in one default partition (``scns*``).

Written from Slurm 22.05's sinfo (sinfo/opts.c for the default formats, sinfo/print.c for
the cells): nodes are gathered into one line per distinct value of the fields the format
shows (only the partition for ``-o %P``; the state too in the default layout; every node
with ``-N``), cells are cut to their width, ``%#P``/``%#N`` are as wide as the longest value
(at least 9).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import NamedTuple

from scns.compat import slurm_format as fmt
from scns.errors import InvalidInput, ScnsError

DEFAULT_FORMAT = "%#P %.5a %.10l %.6D %.6t %N"
SUMMARIZE_FORMAT = "%#P %.5a %.10l %.16F %N"
LONG_FORMAT = "%#P %.5a %.10l %.10s %.4r %.8h %.10g %.6D %.11T %.11i %N"
# sinfo's built-in node layouts right-justify the fitted partition ("partition:.9").
NODE_FORMAT = "%#N %.6D %.#P %6t"
LONG_NODE_FORMAT = "%#N %.6D %.#P %.11T %.4c %.8z %.6m %.8d %.6w %.8f %20E"
REASONS_FORMAT = "%20E %9u %19H %N"
MIN_FIT_WIDTH = 9  # MIN_PART_FIELD_SIZE, MIN_NODE_FIELD_SIZE

# scns's node states -> sinfo's %t and %T (node_state_string_compact / node_state_string).
COMPACT_STATES = {"idle": "idle", "mixed": "mix", "allocated": "alloc", "down": "down",
                  "drained": "drain", "draining": "drng"}  # fmt: skip
_STATE_ORDER = ("mixed", "allocated", "idle", "draining", "drained", "down")  # sort "-t"
_STATE_WORDS = {"idle": {"idle"}, "mix": {"mixed"}, "mixed": {"mixed"}, "alloc": {"allocated"},
                "allocated": {"allocated"}, "down": {"down"}, "drain": {"drained", "draining"},
                "drained": {"drained"}, "drng": {"draining"}, "draining": {"draining"}}  # fmt: skip

HEADERS = {
    "P": "PARTITION", "R": "PARTITION", "a": "AVAIL", "l": "TIMELIMIT", "D": "NODES",
    "N": "NODELIST", "n": "HOSTNAMES", "o": "NODE_ADDR", "t": "STATE", "T": "STATE",
    "c": "CPUS", "C": "CPUS(A/I/O/T)", "F": "NODES(A/I/O/T)", "A": "NODES(A/I)",
    "m": "MEMORY", "E": "REASON", "O": "CPU_LOAD", "e": "FREE_MEM", "s": "JOB_SIZE",
    "h": "OVERSUBSCRIBE", "g": "GROUPS", "r": "ROOT", "H": "TIMESTAMP", "u": "USER",
    "d": "TMP_DISK", "w": "WEIGHT", "z": "S:C:T", "f": "AVAIL_FEATURES", "i": "RESERVATION",
}  # fmt: skip
_NODE_LETTERS = frozenset("Nno")
# Cells that are the same for every scns node (partition flags, loads scns does not sample).
_CONSTANT_CELLS = {"a": "up", "O": "N/A", "e": "N/A", "s": "1", "h": "NO", "g": "all",
                   "r": "no", "H": "Unknown", "u": "Unknown", "d": "0", "w": "1",
                   "f": "(null)", "i": ""}  # fmt: skip
_UNCUT_HEADERS = frozenset("Nno")  # their titles are printed whole

_OPTIONS = (
    fmt.Option("noheader", "h", ("noheader",)),
    fmt.Option("node", "N", ("Node",)),
    fmt.Option("format", "o", ("format",), "required"),
    fmt.Option("Format", "O", ("Format",), "required"),
    fmt.Option("summarize", "s", ("summarize",)),
    fmt.Option("long", "l", ("long",)),
    fmt.Option("partition", "p", ("partition",), "required"),
    fmt.Option("nodes", "n", ("nodes",), "required"),
    fmt.Option("states", "t", ("states", "state"), "required"),
    fmt.Option("responding", "r", ("responding",)),
    fmt.Option("dead", "d", ("dead",)),
    fmt.Option("reasons", "R", ("list-reasons",)),
    fmt.Option("ignored", "a", ("all",)),
    fmt.Option("ignored", "e", ("exact",)),
    fmt.Option("ignored", "v", ("verbose",)),
    fmt.Option("ignored", None, ("local", "federation", "noconvert", "future")),
    fmt.Option("ignored_value", "M", ("clusters", "cluster"), "required"),
    fmt.Option("ignored_value", "i", ("iterate",), "required"),
    fmt.Option("help", None, ("help", "usage")),
    fmt.Option("version", "V", ("version",)),
)


class Field(NamedTuple):
    """One ``%[.][#][width]letter`` of a format, with the text that follows it."""

    letter: str
    width: int
    right: bool
    fit: bool  # '#': as wide as the longest value
    suffix: str


def main(args: list[str]) -> int:
    try:
        found, positional = fmt.parse_options(args, _OPTIONS)
        opts: dict[str, str | None] = dict(found)
        if "help" in opts:
            sys.stdout.write("Usage: sinfo [-hNlsR] [-o FORMAT] [-p PART] [-n NODES] [-t STATES]\n")
            return 0
        if "version" in opts:
            sys.stdout.write(f"slurm {fmt.SLURM_VERSION}\n")
            return 0
        if positional:
            raise InvalidInput(f"unrecognized argument {positional[0]!r}")
        if "Format" in opts:
            raise InvalidInput("-O/--Format is not supported by scns; use -o/--format")
        fields = parse_format(opts.get("format") or _default_format(opts))
        from scns.compat.backend import nodes
        from scns.service.limits import SubmitLimits

        selected = _select(nodes(), opts)
        text = render(selected, fields, max_time_s=SubmitLimits.from_env().max_time_s,
                      node_oriented="node" in opts, header="noheader" not in opts)  # fmt: skip
    except ScnsError as exc:
        sys.stderr.write(f"sinfo: error: {exc}\n")
        return 1
    if "long" in opts and "noheader" not in opts:
        sys.stdout.write(time.strftime("%a %b %d %H:%M:%S %Y") + "\n")
    sys.stdout.write(text)
    return 0


def _default_format(opts: dict) -> str:
    if "reasons" in opts:
        return REASONS_FORMAT
    if "summarize" in opts:
        return SUMMARIZE_FORMAT
    if "node" in opts:
        return LONG_NODE_FORMAT if "long" in opts else NODE_FORMAT
    return LONG_FORMAT if "long" in opts else DEFAULT_FORMAT


def _select(found: Sequence, opts: dict) -> list | None:
    """The nodes the filters keep; None when the partition asked for is not scns's."""
    partitions = opts.get("partition")
    if partitions is not None and fmt.DEFAULT_PARTITION not in partitions.split(","):
        return None
    kept = list(found)
    if opts.get("nodes") is not None:
        names = set(expand_hostlist(opts["nodes"]))
        kept = [n for n in kept if n.name in names]
    if opts.get("states") is not None:
        wanted = set()
        for word in opts["states"].lower().split(","):
            if word not in _STATE_WORDS:
                raise InvalidInput(f"Invalid node state specified: {word}")
            wanted |= _STATE_WORDS[word]
        kept = [n for n in kept if n.state in wanted]
    if "responding" in opts:
        kept = [n for n in kept if n.state != "down"]
    if "dead" in opts:
        kept = [n for n in kept if n.state == "down"]
    if "reasons" in opts:
        kept = [n for n in kept if n.state in ("down", "drained", "draining")]
    return kept


def parse_format(text: str) -> list[Field]:
    """sinfo's -o: literal text before the first field (a field with no letter), then
    ``%[.][#][width]letter`` fields, each with the literal text after it."""
    fields: list[Field] = []
    first = text.find("%")
    if first != 0:
        fields.append(Field("", 0, False, False, text if first < 0 else text[:first]))
    i = first
    while 0 <= i < len(text):
        j, right, fit = i + 1, False, False
        while j < len(text) and text[j] in ".#":
            right, fit = right or text[j] == ".", fit or text[j] == "#"
            j += 1
        digits = j
        while j < len(text) and text[j].isdigit():
            j += 1
        if j >= len(text) or text[j] not in HEADERS:
            raise InvalidInput(f"Invalid node format specification: {text[i : j + 1]}")
        following = text.find("%", j + 1)
        suffix = text[j + 1 :] if following < 0 else text[j + 1 : following]
        fields.append(Field(text[j], int(text[digits:j] or 0), right, fit, suffix))
        i = following
    return fields


def render(found: list | None, fields: list[Field], *, max_time_s: int | None,
           node_oriented: bool = False, header: bool = True) -> str:  # fmt: skip
    """The lines sinfo prints for these nodes (None: the partition asked for is not scns's,
    only the header shows)."""
    groups = [] if found is None else group_nodes(found, fields, node_oriented=node_oriented)
    rows = [[_value(f.letter, group, max_time_s) if f.letter else "" for f in fields]
            for group in groups]  # fmt: skip
    widths = [_width(f, [row[i] for row in rows]) for i, f in enumerate(fields)]
    lines = []
    if header:
        titles = [HEADERS.get(f.letter, "") for f in fields]
        lines.append(_line(fields, titles, widths, is_header=True))
    lines += [_line(fields, row, widths) for row in rows]
    return "".join(line + "\n" for line in lines)


def group_nodes(found: Sequence, fields: list[Field], *, node_oriented: bool) -> list[list]:
    """One group per distinct value of the node fields the format shows (Slurm's match
    flags: %C groups by CPU count as %c does), mixed before allocated before idle before
    drained before down; every node alone and by name with -N. With no nodes at all the
    partition still shows, as one empty group."""
    letters = {f.letter for f in fields}

    def key(node) -> tuple:
        return (
            node.name if node_oriented else "",
            node.state if letters & {"t", "T"} else "",
            node.cpus if letters & {"c", "C", "z"} else 0,
            node.mem_mb if "m" in letters else 0,
            (node.reason or "") if letters & {"E", "H", "u"} else "",
        )

    groups: dict[tuple, list] = {}
    for node in sorted(found, key=lambda n: n.name):
        groups.setdefault(key(node), []).append(node)
    if not groups:
        return [] if node_oriented else [[]]
    if node_oriented:
        return sorted(groups.values(), key=lambda g: _natural(g[0].name))
    return sorted(groups.values(), key=lambda g: (_state_rank(g[0].state), _natural(g[0].name)))


def _state_rank(state: str) -> int:
    return _STATE_ORDER.index(state) if state in _STATE_ORDER else len(_STATE_ORDER)


def _natural(name: str) -> tuple:
    """n2 before n10, as Slurm's host lists sort."""
    head = name.rstrip("0123456789")
    digits = name[len(head) :]
    return (head, int(digits) if digits else -1, name)


def _value(letter: str, nodes: list, max_time_s: int | None) -> str:
    """One cell's text for a group of nodes (sinfo/print.c's _print_* functions)."""
    if letter in ("P", "R"):
        return fmt.DEFAULT_PARTITION + ("*" if letter == "P" else "")
    if letter in _NODE_LETTERS:
        return fmt.nodelist(n.name for n in nodes)
    if letter in ("t", "T"):
        if not nodes:
            return "n/a"
        state = nodes[0].state
        return COMPACT_STATES.get(state, state) if letter == "t" else state
    if letter == "l":
        return "infinite" if max_time_s is None else fmt.squeue_duration(max_time_s)
    if letter in ("c", "m", "z"):
        values = [n.cpus if letter != "m" else n.mem_mb for n in nodes] or [0]
        text = str(min(values)) + ("+" if max(values) > min(values) else "")
        return f"1:{text}:1" if letter == "z" else text
    if letter in ("C", "F", "A"):
        return _counts(letter, nodes)
    if letter == "D":
        return str(len(nodes))
    if letter == "E":
        return (nodes[0].reason if nodes else None) or "none"
    return _CONSTANT_CELLS[letter]


def _counts(letter: str, nodes: list) -> str:
    """%C CPUs and %F nodes as allocated/idle/other/total (other: down or drained); %A
    nodes allocated/idle."""
    cpus = [0, 0, 0, 0]  # allocated, idle, other, total
    counts = [0, 0, 0, 0]
    for node in nodes:
        out = node.state in ("down", "drained", "draining")
        busy = 0 if node.state == "down" else node.allocated
        cpus[0] += busy
        cpus[2 if out else 1] += node.cpus - busy
        cpus[3] += node.cpus
        counts[2 if out else 0 if node.allocated else 1] += 1
        counts[3] += 1
    if letter == "A":
        return f"{counts[0]}/{counts[1]}"
    return "/".join(str(n) for n in (cpus if letter == "C" else counts))


def _width(field: Field, values: list[str]) -> int:
    if field.fit and field.letter in ("P", "R", "N", "n", "o"):
        return max([MIN_FIT_WIDTH, *(len(v) for v in values)])
    return field.width


def _line(fields: list[Field], texts: list[str], widths: list[int], *,
          is_header: bool = False) -> str:  # fmt: skip
    out = []
    for field, text, width in zip(fields, texts, widths, strict=True):
        if field.letter:
            if field.letter == "P" and not is_header and width and len(text) > width:
                text = text[: width - 1] + "*"  # the default mark survives a narrow column
            cut = not (is_header and field.letter in _UNCUT_HEADERS)
            out.append(fmt.squeue_cell(text, width, field.right, cut))
        out.append(field.suffix)
    return "".join(out)


def expand_hostlist(text: str) -> list[str]:
    """``n[1-3,5],m1`` -> n1 n2 n3 n5 m1 (zero-padded ranges keep their width)."""
    names: list[str] = []
    for part in split_outside_brackets(text):
        prefix, bracket, rest = part.partition("[")
        if not bracket:
            names.append(part)
            continue
        inner, _, suffix = rest.partition("]")
        for item in inner.split(","):
            low, dash, high = item.partition("-")
            if not (low.isdigit() and (high.isdigit() or not dash)):
                raise InvalidInput(f"invalid host list {text!r}")
            width = len(low) if low.startswith("0") else 0
            for number in range(int(low), int(high if dash else low) + 1):
                names.append(f"{prefix}{number:0{width}d}{suffix}")
    return names


def split_outside_brackets(text: str) -> list[str]:
    """``n[1,2],m1`` -> ``n[1,2]``, ``m1``: the commas of a list, not of a range."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]
