"""End-of-life releases read from darse/data/eol.toml, as image tags name them."""

from __future__ import annotations

import datetime as dt

import pytest

from darse.lint.knowledge import eol_release_in

TODAY = dt.date(2026, 11, 22)


@pytest.mark.parametrize(
    ("image", "tag", "release"),
    [
        ("debian", "10.13", "10.13 (buster)"),
        ("debian", "stretch-slim", "stretch"),
        ("ubuntu", "18.04", "18.04 (bionic)"),
        ("alpine", "3.12.1", "3.12"),
        ("node", "18-buster", "buster"),
        ("python", "3.9-alpine3.15", "3.15"),
        ("php", "8.1-fpm-bullseye", "bullseye"),
    ],
)
def test_end_of_life_tags(image: str, tag: str, release: str) -> None:
    found = eol_release_in(image, tag, TODAY)
    assert found is not None and found.release == release


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("debian", "12.5-slim"),
        ("ubuntu", "24.04"),
        ("alpine", "3.22"),
        ("python", "3.12-slim-bookworm"),
        ("node", "22"),
    ],
)
def test_supported_tags(image: str, tag: str) -> None:
    assert eol_release_in(image, tag, TODAY) is None


def test_release_is_end_of_life_from_the_day_after_its_date() -> None:
    assert eol_release_in("debian", "bullseye", dt.date(2026, 8, 31)) is None
    assert eol_release_in("debian", "bullseye", dt.date(2026, 9, 1)) is not None
