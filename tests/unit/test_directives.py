import pytest
from hypothesis import given
from hypothesis import strategies as st

from scns.domain.directives import check_script_text, read_directives
from scns.errors import InvalidInput


@pytest.mark.parametrize(
    ("script", "tokens"),
    [
        ("#!/bin/sh\n#SBATCH --time=5\necho hi\n", ["--time=5"]),
        ("#!/bin/sh\n#SBATCH --time=5 # a comment\n", ["--time=5"]),
        ("#!/bin/sh\n#SBATCH -J 'my job' --mem 4G\n", ["-J", "my job", "--mem", "4G"]),
        ("#!/bin/sh\n#SCNS --begin now+5\n", ["--begin", "now+5"]),
        ("#!/bin/sh\n#SBATCH\t-n 2\n", ["-n", "2"]),
        ("#!/bin/sh\n#SBATCH\n#SBATCH -n 2\n", ["-n", "2"]),
        ("#!/bin/sh\n\n# note\n#SBATCH -a 1\n\n#SBATCH -a 2\n", ["-a", "1", "-a", "2"]),
        ("#!/bin/sh\n#SBATCH -a 1\necho hi\n#SBATCH -a 2\n", ["-a", "1"]),  # stops at command
        ("#!/bin/sh\n  echo hi\n#SBATCH -a 2\n", []),
        ("#!/bin/sh\n# SBATCH -a 1\n", []),  # space after '#': a comment
        ("#!/bin/sh\n#SBATCHX -a 1\n#SCNSy -a 2\n", []),
        ("#!/bin/sh\n  #SBATCH -a 1\n#SBATCH -a 2\n", ["-a", "2"]),  # indented: a comment
        ("#!/bin/sh\r\n#SBATCH -a 1\r\n", ["-a", "1"]),
        ("#SBATCH -a 1\n", ["-a", "1"]),  # no shebang: still read
        ('#!/bin/sh\n#SBATCH --comment="a # b"\n', ["--comment=a # b"]),
        ("", []),
    ],
)
def test_read_directives(script, tokens):
    assert read_directives(script) == tokens


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("#!/bin/sh\n#SBATCH -J 'open\n", "line 2: No closing quotation"),
        ("#!/bin/sh\n# x\n#SCNS -J a\\", "line 3: No escaped character"),
    ],
)
def test_read_directives_rejects_bad_quoting(script, message):
    with pytest.raises(InvalidInput, match=message):
        read_directives(script)


@given(st.lists(st.text(alphabet="abcXYZ-=_.0123456789", min_size=1), max_size=8))
def test_directive_tokens_round_trip(tokens):
    script = "#!/bin/sh\n" + "".join(f"#SBATCH {token}\n" for token in tokens) + "true\n"
    assert read_directives(script) == tokens


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"#!/bin/sh\necho hi\n", "#!/bin/sh\necho hi\n"),
        (b"#! /usr/bin/env python3\nprint()\n", "#! /usr/bin/env python3\nprint()\n"),
        ("#!/bin/sh\necho 'héllo'\n".encode(), "#!/bin/sh\necho 'héllo'\n"),
    ],
)
def test_check_script_text(data, text):
    assert check_script_text(data) == text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty script"),
        (b" \n\t\n", "empty script"),
        (b"#!/bin/sh\n\0", "binary script"),
        (b"#!/bin/sh\n\xff\xfe", "binary script"),
        (b"echo hi\n", "first line must be an interpreter line like #!/bin/sh, got 'echo hi'"),
        (b"\n#!/bin/sh\n", "first line must be an interpreter line"),
        (b"#!\necho\n", "first line must be an interpreter line"),
        (b"#!  \necho\n", "first line must be an interpreter line"),
        (b"#!/bin/sh\r\necho hi\r\n", "DOS line breaks"),
    ],
)
def test_check_script_text_rejects(data, message):
    with pytest.raises(InvalidInput, match=message):
        check_script_text(data)
