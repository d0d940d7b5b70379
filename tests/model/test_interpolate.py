"""Compose interpolation, compared case by case with what `docker compose config` gives."""

from __future__ import annotations

import pytest

from darse.model.interpolate import InterpolationError, interpolate

ENV = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected", "missing"),
    [
        ("plain", "plain", []),
        ("${SET}", "value", []),
        ("$SET-x", "value-x", []),
        ("${UNSET}", "", ["UNSET"]),
        ("${UNSET:-default}", "default", []),
        ("${EMPTY:-default}", "default", []),
        ("${EMPTY-default}", "", []),
        ("${UNSET-default}", "default", []),
        ("${SET:+alt}", "alt", []),
        ("${EMPTY:+alt}", "", []),
        ("${EMPTY+alt}", "alt", []),
        ("${UNSET:-${SET}}", "value", []),
        ("${UNSET:-${ALSO_UNSET}}", "", ["ALSO_UNSET"]),
        ("$$SET", "$SET", []),
        ("cost: 5$", "cost: 5$", []),
        ("img:${TAG:-1.2}", "img:1.2", []),
    ],
)
def test_interpolate(text: str, expected: str, missing: list[str]) -> None:
    result = interpolate(text, ENV)
    assert result.value == expected
    assert result.missing == missing


@pytest.mark.parametrize(
    "text", ["${UNSET:?must be set}", "${EMPTY:?}", "${UNSET?}", "${unclosed", "${1BAD}", "${X!y}"]
)
def test_interpolation_errors(text: str) -> None:
    with pytest.raises(InterpolationError):
        interpolate(text, ENV)


def test_required_variable_message_names_the_variable() -> None:
    with pytest.raises(InterpolationError, match="UNSET"):
        interpolate("${UNSET:?please set it}", ENV)
