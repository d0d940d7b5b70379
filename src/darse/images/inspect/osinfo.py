"""The base OS of the final filesystem (`/etc/os-release`) and whether its release is end-of-life,
from `darse/data/eol.toml` (the same table lint's DF003 reads)."""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass

from darse.lint.knowledge import eol_table

OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")


@dataclass(frozen=True)
class OsInfo:
    id: str
    name: str
    version: str
    codename: str
    pretty_name: str
    eol_date: dt.date | None  # end of standard support when the release is in the table
    eol: bool | None  # None: unknown release

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "codename": self.codename,
            "pretty_name": self.pretty_name,
            "eol": self.eol,
            "eol_date": self.eol_date.isoformat() if self.eol_date else None,
        }


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines with shell quoting, as os-release(5) defines; malformed lines are skipped."""
    values: dict[str, str] = {}
    for line in text.splitlines()[:200]:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            continue
        values[key.strip()] = " ".join(parts)[:200]
    return values


def os_info(text: str | None, today: dt.date | None = None) -> OsInfo | None:
    if text is None:
        return None
    values = parse_os_release(text)
    if not values:
        return None
    os_id = values.get("ID", "").lower()
    version = values.get("VERSION_ID", "")
    codename = values.get("VERSION_CODENAME", "").lower()
    end = _end_of_support(os_id, version, codename)
    today = today or dt.date.today()
    return OsInfo(
        id=os_id,
        name=values.get("NAME", ""),
        version=version,
        codename=codename,
        pretty_name=values.get("PRETTY_NAME", ""),
        eol_date=end,
        eol=None if end is None else end < today,
    )


def _end_of_support(os_id: str, version: str, codename: str) -> dt.date | None:
    table = eol_table()
    if os_id == "alpine":
        branch = ".".join(version.split(".")[:2])
        return table["alpine"].get(branch)
    if os_id in ("debian", "ubuntu"):
        releases = table[os_id]
        if codename in releases:
            return releases[codename][1]
        major = version if os_id == "ubuntu" else version.split(".")[0]
        for release, end in releases.values():
            if release == major:
                return end
    return None
