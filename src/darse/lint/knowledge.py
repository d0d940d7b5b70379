"""The data files the rules read (`darse/data/*.toml`): end-of-life releases and well-known images."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files


@dataclass(frozen=True)
class EolRelease:
    distribution: str
    release: str  # codename or version as found in the tag
    end: dt.date


def _load(name: str) -> dict:
    return tomllib.loads(files("darse.data").joinpath(name).read_text(encoding="utf-8"))


@cache
def eol_table() -> dict:
    return _load("eol.toml")


@cache
def images_table() -> dict:
    return _load("images.toml")


def database_data_dirs(image_name: str) -> list[str] | None:
    """Data directories of a known database image, or None if the image is not a known database."""
    dirs = images_table()["databases"].get(image_name)
    return list(dirs) if dirs is not None else None


def is_web_image(image_name: str) -> bool:
    return image_name in images_table()["web"]["names"]


def is_proxy_image(image_name: str) -> bool:
    return image_name in images_table()["proxies"]["names"]


_ALPINE_IN_TAG = re.compile(r"alpine-?v?(3\.\d+)")
_VERSION_TAG = re.compile(r"^(\d+(?:\.\d+)?)")


def eol_release_in(image_name: str, tag: str, today: dt.date | None = None) -> EolRelease | None:
    """An end-of-life distribution release named by an image tag (`node:18-buster`, `alpine:3.12`)."""
    today = today or dt.date.today()
    table = eol_table()
    words = set(re.split(r"[-_.]", tag.lower()))
    for distribution in ("debian", "ubuntu"):
        for codename, (_version, end) in table[distribution].items():
            if codename in words and end < today:
                return EolRelease(distribution, codename, end)
    alpine = table["alpine"]
    match = _ALPINE_IN_TAG.search(tag.lower())
    if match and match.group(1) in alpine and alpine[match.group(1)] < today:
        return EolRelease("alpine", match.group(1), alpine[match.group(1)])
    number = _VERSION_TAG.match(tag)
    if number and image_name in ("debian", "ubuntu", "alpine"):
        version = number.group(1)
        if image_name == "alpine":
            version = ".".join(version.split(".")[:2])
            end = alpine.get(version)
            return EolRelease("alpine", version, end) if end and end < today else None
        major = version if image_name == "ubuntu" else version.split(".")[0]  # debian:10.13 is Debian 10
        for codename, (release, end) in table[image_name].items():
            if release == major and end < today:
                return EolRelease(image_name, f"{version} ({codename})", end)
    return None
