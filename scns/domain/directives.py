"""Batch-script checks and `#SBATCH`/`#SCNS` option lines, read the way sbatch reads them."""

from scns.errors import InvalidInput

DIRECTIVE_PREFIXES = ("#SBATCH", "#SCNS")


def _directive_body(line: str) -> str | None:
    """Text after a directive prefix, or None if the line is not a directive."""
    for prefix in DIRECTIVE_PREFIXES:
        if line.startswith(prefix):
            rest = line[len(prefix) :]
            # "#SBATCHX" is a plain comment; the prefix must end the line or precede a space.
            return rest if not rest or rest[0].isspace() else None
    return None


def _is_command(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def read_directives(script_text: str) -> list[str]:
    """Option tokens from the leading `#SBATCH`/`#SCNS` lines, in order; later ones override.

    Like sbatch: a first-line shebang is skipped, blank and other comment lines are skipped,
    and scanning stops at the first command line. Only a prefix at column 0 counts, so
    `# SBATCH` and indented directives are comments. Tokens are split as a POSIX shell
    would, and `#` starts a trailing comment.
    """
    lines = script_text.split("\n")
    if lines and lines[0].startswith("#!"):
        lines[0] = ""
    tokens: list[str] = []
    for line_number, raw_line in enumerate(lines, start=1):
        line = raw_line.removesuffix("\r")
        if _is_command(line):
            break
        body = _directive_body(line)
        if body is None:
            continue
        try:
            tokens.extend(split_words(body))
        except ValueError as exc:
            raise InvalidInput(
                f"invalid directive on line {line_number}: {exc} in {line!r}"
            ) from None
    return tokens


def check_script_text(data: bytes) -> str:
    """Reject what sbatch rejects (empty, binary, DOS line ends, no #!) and return the text."""
    if not data.strip():
        raise InvalidInput("empty script: the batch script has no content")
    try:
        if b"\0" in data:
            raise UnicodeError("NUL byte")
        text = data.decode("utf-8")
    except UnicodeError:
        raise InvalidInput("binary script: expected UTF-8 text without NUL bytes") from None
    first_line = text.split("\n", 1)[0]
    if not first_line.startswith("#!") or not first_line[2:].strip():
        raise InvalidInput(
            f"not a batch script: first line must be an interpreter line like #!/bin/sh, "
            f"got {first_line[:60]!r}"
        )
    if "\r\n" in text:
        raise InvalidInput(
            "script has DOS line breaks (\\r\\n); convert it with dos2unix or sed 's/\\r$//'"
        )
    return text


# Characters that make shell word splitting more than splitting on blanks.
_SHELL_SPECIAL = frozenset("'\"\\#\r")


def split_words(body: str) -> list[str]:
    """``shlex.split(body, comments=True)``, without importing shlex (and re) for plain lines.

    Most directives are ``--cpus 4``-like words; only quotes, escapes and comments need
    the shell lexer.
    """
    if _SHELL_SPECIAL.isdisjoint(body):
        return [word for word in body.replace("\t", " ").split(" ") if word]
    import shlex

    return shlex.split(body, comments=True)
