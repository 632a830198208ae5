import pytest
from hypothesis import given
from hypothesis import strategies as st

from scns.domain.sizes import MAX_MEM_MB, format_mem, parse_mem_mb
from scns.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "mb"),
    [
        ("512", 512),
        ("512M", 512),
        ("512mb", 512),
        ("4G", 4096),
        ("4gb", 4096),
        ("4GB", 4096),
        ("1T", 1024**2),
        ("2TB", 2 * 1024**2),
        ("1K", 1),  # K rounds up to whole MB
        ("1024K", 1),
        ("1025KB", 2),
        (" 8G ", 8192),
        ("1024T", MAX_MEM_MB),
    ],
)
def test_parse_mem_mb(text, mb):
    assert parse_mem_mb(text) == mb


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a whole number"),
        ("G", "expected a whole number"),
        ("GB", "expected a whole number"),
        ("1.5G", "expected a whole number"),
        ("-1G", "expected a whole number"),
        ("4X", "expected a whole number"),
        ("4B", "expected a whole number"),
        ("4 G", "expected a whole number"),
        ("0", "greater than zero"),
        ("0K", "greater than zero"),
        ("1025T", "larger than 1024T"),
        ("9" * 30, "larger than 1024T"),
    ],
)
def test_parse_mem_mb_rejects(text, message):
    with pytest.raises(InvalidInput, match=message) as info:
        parse_mem_mb(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("mb", "text"),
    [(1, "1M"), (512, "512M"), (1536, "1536M"), (1024, "1G"), (4096, "4G"), (1024**2, "1T")],
)
def test_format_mem(mb, text):
    assert format_mem(mb) == text


@given(st.integers(min_value=1, max_value=MAX_MEM_MB))
def test_formatted_mem_parses_back(mb):
    assert parse_mem_mb(format_mem(mb)) == mb
