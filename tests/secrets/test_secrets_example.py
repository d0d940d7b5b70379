"""The example parser: placeholders, links and defaults; malformed lines name file:line and never echo."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from darse.secrets.example import ExampleError, is_placeholder, parse_example

WHERE = "svc/app.secrets.example"


def test_values_are_placeholders_links_or_defaults() -> None:
    text = """
# a comment
EMPTY=
QUOTED_EMPTY=""
CHANGE=changeme
CHANGE2=CHANGE_ME
ANGLE=<your password>
GEN=@generate
LINKED=@generate:db-password
export EXPORTED=@generate:db-password
DEFAULT=wiki
SPACED = value with spaces # and a comment
SINGLE='a # not a comment' # a comment
DOUBLE="a \\"quoted\\" value"
"""
    entries = {e.key: e for e in parse_example(text, WHERE)}
    generated = {k for k, e in entries.items() if e.generate}
    assert generated == {"EMPTY", "QUOTED_EMPTY", "CHANGE", "CHANGE2", "ANGLE", "GEN", "LINKED", "EXPORTED"}
    assert entries["LINKED"].label == entries["EXPORTED"].label == "db-password"
    assert entries["EXPORTED"].export
    assert entries["GEN"].label is None
    assert entries["DEFAULT"].value == "wiki"
    assert entries["SPACED"].value == "value with spaces"
    assert entries["DOUBLE"].value == 'a "quoted" value'
    assert entries["DEFAULT"].line == 11
    assert entries["SINGLE"].value == "a # not a comment"


@pytest.mark.parametrize("value", ["", "changeme", "Change-Me", "CHANGE_ME", "<x>", "@generate", "@generate:a"])
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["wiki", "@admin", "<", "change", "5432", "@generated"])
def test_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("OK=1\nhunter2-is-my-password\n", 2, "not a KEY=VALUE line"),
        ("OK=1\n\n 9BAD=hunter2secret\n", 3, "not a KEY=VALUE line"),
        ("A B=hunter2secret\n", 1, "not a KEY=VALUE line"),
        ('PASSWORD="hunter2secret\n', 1, "unterminated or malformed quoted value"),
        ("PASSWORD='hunter2secret' trailing\n", 1, "unterminated or malformed quoted value"),
        ("PASSWORD=@generate:\n", 1, "malformed @generate label"),
        ("PASSWORD=@generate:bad label\n", 1, "malformed @generate label"),
        ("PASSWORD=hunter2secret\nPASSWORD=again\n", 2, "already set on line 1"),
    ],
)
def test_malformed_lines_name_the_place_never_the_value(text: str, line: int, needle: str) -> None:
    with pytest.raises(ExampleError) as caught:
        parse_example(text, WHERE)
    message = caught.value.one_line()
    assert message.startswith(f"{WHERE}:{line}: ")
    assert needle in message
    assert "hunter2" not in message and "\n" not in message


_ERROR = re.compile(
    r"^svc/app\.secrets\.example:\d+: (not a KEY=VALUE line|unterminated or malformed quoted value"
    r"|key [A-Za-z_][A-Za-z0-9_.\-]* is already set on line \d+|[A-Za-z_][A-Za-z0-9_.\-]* has a malformed "
    r"@generate label)$"
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300))
def test_any_text_parses_or_fails_with_a_fixed_message(text: str) -> None:
    """Whatever the input, the parser returns entries or raises ExampleError whose message is one of
    the fixed shapes: no fragment of the input other than a validated key can reach it."""
    try:
        entries = parse_example(text, WHERE)
    except ExampleError as exc:
        assert _ERROR.match(exc.message), exc.message
        return
    assert len({e.key for e in entries}) == len(entries)


_keys = st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True)
_values = st.text(alphabet="abcXYZ019-_./:@+=", max_size=20).filter(lambda v: not v.startswith("@generate"))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=8))
def test_written_examples_read_back(pairs: dict[str, str]) -> None:
    text = "# header\n" + "".join(f"{k}={v}\n" for k, v in pairs.items())
    entries = parse_example(text, WHERE)
    assert {e.key: e.value for e in entries} == pairs
    assert all(e.generate == is_placeholder(pairs[e.key]) for e in entries)


_labels = st.sampled_from(["db", "api", "x.y"])
_example_values = st.one_of(
    _values,
    st.sampled_from(["", "changeme", "<secret>", "@generate"]),
    _labels.map(lambda label: f"@generate:{label}"),
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys, _example_values, max_size=8))
def test_real_file_rendered_from_an_example(pairs: dict[str, str]) -> None:
    """The real file has the example's keys; defaults kept; placeholders random; equal labels equal values."""
    from darse.model.dotenv import parse_env
    from darse.secrets.example import Example
    from darse.secrets.generate import LinkedValues, render_real

    text = "# header\n" + "".join(f"{k}={v}\n" for k, v in pairs.items())
    example = Example(Path("x.secrets.example"), tuple(text.splitlines()), parse_example(text, WHERE))
    rendered, generated = render_real(example, "x.secrets.example", LinkedValues())
    real = {entry.key: entry.value for entry in parse_env(rendered)}
    assert list(real) == list(pairs)
    for key, value in pairs.items():
        if is_placeholder(value):
            assert re.fullmatch(r"[A-Za-z0-9_-]{43}", real[key]) and generated[key] == real[key]
        else:
            assert real[key] == value and key not in generated
    by_label: dict[str, set[str]] = {}
    for key, value in pairs.items():
        if value.startswith("@generate:"):
            by_label.setdefault(value, set()).add(real[key])
    assert all(len(values) == 1 for values in by_label.values())
    plain = [real[k] for k, v in pairs.items() if v in ("", "changeme", "<secret>", "@generate")]
    assert len(set(plain)) == len(plain)


def test_byte_order_mark_and_crlf_are_tolerated(tmp_path: Path) -> None:
    from darse.secrets.example import load_example

    path = tmp_path / "app.secrets.example"
    path.write_bytes("\ufeffTOKEN=\r\nUSER=app\r\n".encode())
    example = load_example(path, "app.secrets.example")
    assert [(e.key, e.value, e.generate) for e in example.entries] == [("TOKEN", "", True), ("USER", "app", False)]
