"""Golden files of the JSON every command prints: the documented output must not change by accident.

A document is normalised before it is compared (times, durations, hashes, commits, ids, temporary paths
and random names become placeholders) so that only its shape and its stable values are held to.
`DARSE_GOLDEN_UPDATE=1 pytest ...` rewrites the files after a deliberate change.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent.parent / "golden"

VOLATILE_KEYS = {
    "seconds", "duration", "started_at", "finished_at", "last_time", "created", "deployed_at", "id", "user",
    "size", "image_id", "pid", "uptime", "elapsed",
}  # fmt: skip
MACHINE_KEYS = {"digests"}  # what other images on the test machine share with ours
UNORDERED_KEYS = {"images", "pinned"}  # mappings filled in the order the engine lists containers
PATTERNS = [
    (re.compile(r"sha256:[0-9a-f]{64}"), "<sha256>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hex64>"),
    (re.compile(r"\b[0-9a-f]{40}\b"), "<commit>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<short>"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\b(app|px|svc|golden)[0-9a-f]{8}\b"), r"\1<rand>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "<registry>"),
    (re.compile(r"darsetest_px[0-9a-f]{8}"), "darsetest_px<rand>"),
]


def normalise(value: Any, replacements: dict[str, str], key: str = "") -> Any:
    """The document with everything that changes from run to run replaced by a placeholder."""
    if key in MACHINE_KEYS:
        return f"<{type(value).__name__}>"
    if isinstance(value, dict) and key in UNORDERED_KEYS:
        value = dict(sorted(value.items()))
    if isinstance(value, dict):
        return {k: normalise(v, replacements, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, replacements, key) for v in value]
    if key in VOLATILE_KEYS and value is not None:
        return f"<{type(value).__name__}>"
    if isinstance(value, float):
        return "<float>"
    if isinstance(value, str):
        for old, new in replacements.items():
            value = value.replace(old, new)
        for pattern, placeholder in PATTERNS:
            value = pattern.sub(placeholder, value)
    return value


def check(name: str, stdout: str, replacements: dict[str, str] | None = None) -> None:
    """Compare one command's JSON output with `golden/NAME.json` (key order included)."""
    document = normalise(json.loads(stdout), replacements or {})
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("DARSE_GOLDEN_UPDATE") == "1" or not path.exists():
        path.write_text(text, encoding="utf-8")
        if os.environ.get("DARSE_GOLDEN_UPDATE") != "1":
            raise AssertionError(f"{path} was missing and has been written: check it and commit it")
        return
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden", "now"))
        raise AssertionError(f"the JSON of {name} changed (DARSE_GOLDEN_UPDATE=1 after a deliberate change):\n{diff}")
