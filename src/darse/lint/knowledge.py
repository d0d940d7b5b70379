"""The data files the rules read (`darse/data/*.toml`): end-of-life releases, well-known images, inits."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache, lru_cache
from importlib.resources import files

from darse.model.image import ImageRef


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


def database_data_dirs(image: str | ImageRef) -> list[str] | None:
    """Data directories of a known database image, or None if the image is not a known database.

    Given a whole reference, the image's own layout wins over its name's default: `linuxserver/mariadb`
    keeps its data in /config, `influxdb:1.8` in /var/lib/influxdb (images.toml, `[[data_dir]]`)."""
    name = image if isinstance(image, str) else image.name
    dirs = images_table()["databases"].get(name)
    if dirs is None:
        return None
    if not isinstance(image, str):
        for entry in images_table().get("data_dir", ()):
            if _matches(entry, image):
                return list(entry["dirs"])
    return list(dirs)


def telltale_data_dirs() -> frozenset[str]:
    """Data directories that tell a database whatever its image's name (images.toml, [telltale])."""
    return frozenset(images_table().get("telltale", {}).get("data_dirs", ()))


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


@cache
def init_table() -> dict:
    return _load("init.toml")


def _matches(entry: dict, ref: ImageRef) -> bool:
    if not fnmatchcase(ref.full_name, entry["image"]):
        return False
    tags = entry.get("tags")
    return tags is None or any(fnmatchcase(ref.tag.lower(), pattern) for pattern in tags)


def image_init(ref: ImageRef) -> str | None:
    """The init an image runs as PID 1 by itself (`s6-overlay`, `tini`, `dumb-init`), from init.toml."""
    return _image_init(ref.full_name)


@lru_cache(maxsize=4096)
def _image_init(full_name: str) -> str | None:
    """Cached by name: a repository runs the same few images in many services."""
    for entry in init_table()["image"]:
        if fnmatchcase(full_name, entry["image"]):
            return str(entry["init"])
    return None


def entrypoint_init(first_word: str) -> str | None:
    """What an entrypoint's first word makes PID 1: `/init` is s6-overlay, `/usr/bin/tini` is tini."""
    table = init_table()["entrypoints"]
    if first_word in table:
        return str(table[first_word])
    return table.get(first_word.rsplit("/", 1)[-1]) if first_word.rsplit("/", 1)[-1] != "init" else None


def http_ports() -> frozenset[int]:
    return frozenset(images_table()["ports"]["http"])


def non_http_ports() -> frozenset[int]:
    return frozenset(images_table()["ports"]["not_http"])


def image_web_ports(image_name: str) -> frozenset[int]:
    """The container ports a known web image serves its interface on (beyond the HTTP conventions)."""
    return frozenset(images_table()["web"]["ports"].get(image_name, ()))
