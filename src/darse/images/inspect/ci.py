"""`--ci`: thresholds from flags or `[inspect]` in darse.toml; a crossed one makes the exit code 1.

[inspect]
lowest_efficiency = 0.95        # 0..1
highest_wasted_bytes = "20MB"   # or an integer number of bytes
highest_wasted_percent = 5.0
max_age_days = 180
forbid_root = true
forbid_eol = true
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any

from darse.errors import DarseError
from darse.images.inspect.analysis import Analysis

KEYS = (
    "lowest_efficiency",
    "highest_wasted_bytes",
    "highest_wasted_percent",
    "max_age_days",
    "forbid_root",
    "forbid_eol",
)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
}


@dataclass(frozen=True)
class Thresholds:
    lowest_efficiency: float | None = None
    highest_wasted_bytes: int | None = None
    highest_wasted_percent: float | None = None
    max_age_days: float | None = None
    forbid_root: bool = False
    forbid_eol: bool = False

    def merged(self, **flags: Any) -> Thresholds:
        """Flags given on the command line override darse.toml."""
        return replace(self, **{k: v for k, v in flags.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    actual: Any
    limit: Any

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "actual": self.actual, "limit": self.limit}


def parse_size(value: object, where: str = "--highest-wasted-bytes") -> int:
    """`20MB`, `1.5GiB`, `4096`, or an integer: bytes."""
    if isinstance(value, bool):
        raise DarseError(f"{where} must be a size", "write it like 20MB, 512KiB or 1000000")
    if isinstance(value, int):
        if value < 0:
            raise DarseError(f"{where} is negative", "use a size of 0 or more")
        return value
    match = _SIZE.match(str(value))
    if not match or (match.group(2) or "").lower() not in _UNITS:
        raise DarseError(f"{where}: {str(value)[:40]!r} is not a size", "write it like 20MB, 512KiB or 1000000")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def from_config(table: object, where: str = "darse.toml [inspect]") -> Thresholds:
    if table is None:
        return Thresholds()
    if not isinstance(table, dict):
        raise DarseError(f"{where} must be a table", "write it as [inspect] followed by its keys")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise DarseError(f"{where}: unknown key {unknown[0]!r}", f"allowed keys are {', '.join(KEYS)}")
    values: dict[str, Any] = {}
    for key in ("lowest_efficiency", "highest_wasted_percent", "max_age_days"):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise DarseError(f"{where}: {key} must be a number of 0 or more", f"write {key} = 10")
            values[key] = float(value)
    if "lowest_efficiency" in values and values["lowest_efficiency"] > 1:
        raise DarseError(f"{where}: lowest_efficiency is a ratio between 0 and 1", "write lowest_efficiency = 0.9")
    if "highest_wasted_bytes" in table:
        values["highest_wasted_bytes"] = parse_size(table["highest_wasted_bytes"], f"{where} highest_wasted_bytes")
    for key in ("forbid_root", "forbid_eol"):
        if key in table:
            if not isinstance(table[key], bool):
                raise DarseError(f"{where}: {key} must be true or false", f"write {key} = true")
            values[key] = table[key]
    return Thresholds(**values)


def evaluate(analysis: Analysis, limits: Thresholds) -> list[Violation]:
    out: list[Violation] = []
    waste = analysis.waste
    if limits.lowest_efficiency is not None and waste.efficiency < limits.lowest_efficiency:
        out.append(
            Violation(
                "lowest-efficiency",
                f"efficiency {waste.efficiency:.4f} is below {limits.lowest_efficiency}",
                round(waste.efficiency, 6),
                limits.lowest_efficiency,
            )
        )
    if limits.highest_wasted_bytes is not None and waste.wasted_bytes > limits.highest_wasted_bytes:
        out.append(
            Violation(
                "highest-wasted-bytes",
                f"{waste.wasted_bytes} wasted bytes exceed {limits.highest_wasted_bytes}",
                waste.wasted_bytes,
                limits.highest_wasted_bytes,
            )
        )
    if limits.highest_wasted_percent is not None and waste.wasted_percent > limits.highest_wasted_percent:
        out.append(
            Violation(
                "highest-wasted-percent",
                f"{waste.wasted_percent:.2f} % wasted exceeds {limits.highest_wasted_percent} %",
                round(waste.wasted_percent, 4),
                limits.highest_wasted_percent,
            )
        )
    if limits.max_age_days is not None:
        age = analysis.age_days()
        if age is None:
            out.append(Violation("max-age-days", "the image has no valid created date", None, limits.max_age_days))
        elif age > limits.max_age_days:
            out.append(
                Violation(
                    "max-age-days",
                    f"the image is {age:.0f} days old, over {limits.max_age_days:g}",
                    round(age, 2),
                    limits.max_age_days,
                )
            )
    if limits.forbid_root and analysis.runs_as_root:
        out.append(
            Violation(
                "forbid-root", f"the image runs as root (USER {analysis.user or 'unset'})", analysis.user, "non-root"
            )
        )
    if limits.forbid_eol and analysis.os is not None and analysis.os.eol:
        out.append(
            Violation(
                "forbid-eol",
                f"the base OS {analysis.os.pretty_name or analysis.os.id} reached its end of life "
                f"on {analysis.os.eol_date}",
                str(analysis.os.eol_date),
                "supported",
            )
        )
    return out


def ci_section(limits: Thresholds, violations: list[Violation]) -> dict[str, Any]:
    return {"passed": not violations, "thresholds": limits.as_dict(), "violations": [v.as_dict() for v in violations]}
