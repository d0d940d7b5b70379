"""The report: one JSON document (`darse.inspect/1`, documented in docs/inspect.md, stable: fields are
only ever added). The human view (`darse.cli.inspect_view`) is rendered from that same document, so both
always agree."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from darse.images.inspect.analysis import Analysis
from darse.secretlike import is_secret_literal, is_secret_name

SCHEMA = "darse.inspect/1"
MASK = "****"
_BUILD_ARG = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)")
OCI_LABELS = {
    "version": "org.opencontainers.image.version",
    "revision": "org.opencontainers.image.revision",
    "source": "org.opencontainers.image.source",
    "created": "org.opencontainers.image.created",
    "title": "org.opencontainers.image.title",
}


def _masked_env(values: object) -> list[dict[str, str]]:
    out = []
    for item in values if isinstance(values, list) else []:
        name, _, value = str(item).partition("=")
        out.append({"name": name, "value": MASK if is_secret_literal(name, value) else value})
    return out


def _masked_labels(labels: object) -> dict[str, str]:
    if not isinstance(labels, dict):
        return {}
    return {str(k): MASK if is_secret_literal(str(k), str(v)) else str(v) for k, v in sorted(labels.items())}


def masked_build_args(created_by: str) -> str:
    """A layer's command with the values of its secret-looking build arguments masked. The classic
    builder records the build arguments a RUN saw before it (`|2 VERSION=1.2 NPM_TOKEN=abc /bin/sh -c
    npm ci`): `--build-arg NPM_TOKEN=...` would otherwise be shown to whoever reads the report. Values
    are not quoted there: a word that is not `KEY=` continues the value before it."""
    head = re.match(r"\|(\d+) ", created_by)
    if head is None:
        return created_by
    left = int(head.group(1))
    words = created_by[head.end() :].split(" ")
    out: list[str] = []
    hiding = False
    for index, word in enumerate(words):
        pair = _BUILD_ARG.match(word)
        if left and pair:  # KEY=value: one of the build arguments
            left -= 1
            hiding = is_secret_literal(pair.group(1), pair.group(2)) or is_secret_name(pair.group(1))
            out.append(f"{pair.group(1)}={MASK}" if hiding else word)
        elif hiding and left:  # a word of a hidden value with spaces (the last value ends at its first space)
            continue
        else:
            out.extend(words[index:])
            break
    return f"|{head.group(1)} " + " ".join(out)


def _command(value: object) -> list[str] | None:
    if value is None:
        return None
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def build(analysis: Analysis, max_items: int = 1000, now: dt.datetime | None = None) -> dict[str, Any]:
    """The JSON report. Lists of files are capped at `max_items` (their `total` is always exact)."""
    image, settings, config = analysis.image, analysis.settings, analysis.config
    labels = _masked_labels(settings.get("Labels"))
    age = analysis.age_days(now)
    waste = analysis.waste
    return {
        "schema": SCHEMA,
        "source": {
            "kind": image.source,
            "reference": image.reference,
            "platform": image.platform,
            "manifest_digest": image.manifest_digest,
            "repo_tags": image.repo_tags,
            "read": image.read,
        },
        "image": {
            "id": analysis.image_id,
            "created": analysis.created.isoformat() if analysis.created else None,
            "age_days": round(age, 2) if age is not None else None,
            "os": str(config.get("os") or ""),
            "architecture": str(config.get("architecture") or ""),
            "variant": str(config.get("variant") or ""),
            "user": analysis.user,
            "runs_as_root": analysis.runs_as_root,
            "entrypoint": _command(settings.get("Entrypoint")),
            "cmd": _command(settings.get("Cmd")),
            "working_dir": str(settings.get("WorkingDir") or ""),
            "exposed_ports": sorted(str(p) for p in (settings.get("ExposedPorts") or {})),
            "env": _masked_env(settings.get("Env")),
            "labels": labels,
            "oci": {key: labels.get(label) for key, label in OCI_LABELS.items()},
        },
        "base_os": analysis.os.to_dict() if analysis.os else None,
        "layers": [
            {
                "index": layer.index,
                "digest": layer.diff_id,
                "verified": layer.verified,
                "created_by": masked_build_args(layer.created_by),
                "size": layer.size,
                "tar_size": layer.tar_size,
                "compressed_size": layer.compressed_size,
                "entries": layer.entries,
                "added": layer.changes.added,
                "modified": layer.changes.modified,
                "removed": layer.changes.removed,
                "wasted_bytes": layer.wasted_bytes,
            }
            for layer in analysis.layers
        ],
        "waste": {
            "stored_bytes": waste.stored_bytes,
            "wasted_bytes": waste.wasted_bytes,
            "wasted_percent": round(waste.wasted_percent, 4),
            "efficiency": round(waste.efficiency, 6),
            "files_total": len(waste.files),
            "files": [
                {"path": "/" + f.path, "layer": f.layer, "size": f.size, "how": f.how, "by_layer": f.by_layer}
                for f in waste.files[:max_items]
            ],
        },
        "removed_files": {
            "total": len(analysis.removed),
            "items": [
                {
                    "path": "/" + item.entry.path,
                    "type": item.entry.kind,
                    "size": item.entry.size,
                    "layer": item.layer,
                    "removed_in": item.by_layer,
                    "how": item.how,
                }
                for item in analysis.removed[:max_items]
            ],
        },
        "findings": [finding.to_dict() for finding in analysis.findings[:max_items]],
        "findings_total": len(analysis.findings),
        "warnings": list(analysis.warnings),
    }
