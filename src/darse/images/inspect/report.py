"""The report: one JSON document (`darse.inspect/1`, documented in docs/inspect.md, stable: fields are
only ever added) and a human view rendered with rich from that same document, so both always agree."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from darse.images.inspect.analysis import Analysis
from darse.secretlike import is_secret_literal

SCHEMA = "darse.inspect/1"
MASK = "****"
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
        "base_os": analysis.os.as_dict() if analysis.os else None,
        "layers": [
            {
                "index": layer.index,
                "digest": layer.diff_id,
                "verified": layer.verified,
                "created_by": layer.created_by,
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
        "findings": [finding.as_dict() for finding in analysis.findings[:max_items]],
        "findings_total": len(analysis.findings),
        "warnings": list(analysis.warnings),
    }


def human_size(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{value} B"


def render(document: dict[str, Any], console: Console, max_items: int = 20) -> None:
    """The human view of `build()`'s document."""
    image, base = document["image"], document["base_os"]
    source = document["source"]
    out = console.print
    out(
        f"[bold]{escape(source['reference'])}[/] ({source['kind']}"
        f"{', ' + source['platform'] if source['platform'] else ''})"
    )
    rows = [
        ("image id", image["id"]),
        ("manifest digest", source["manifest_digest"] or "-"),
        ("created", f"{image['created'] or '?'} ({_age(image['age_days'])})"),
        ("platform", "/".join(p for p in (image["os"], image["architecture"], image["variant"]) if p)),
        ("base OS", _os_line(base)),
        ("user", f"{image['user'] or 'root (no USER)'}{' [red](root)[/]' if image['runs_as_root'] else ''}"),
        ("entrypoint", " ".join(image["entrypoint"]) if image["entrypoint"] else "-"),
        ("cmd", " ".join(image["cmd"]) if image["cmd"] else "-"),
        ("exposed ports", ", ".join(image["exposed_ports"]) or "-"),
    ]
    for key, value in image["oci"].items():
        if value:
            rows.append((f"oci {key}", value))
    for name, value in rows:
        out(f"  [dim]{name:>15}[/]  {value if name in ('user', 'base OS') else escape(str(value))}", highlight=False)
    if image["env"]:
        out("  [dim]{:>15}[/]  ".format("env") + escape(", ".join(f"{e['name']}={e['value']}" for e in image["env"])))
    table = Table(title="layers", title_justify="left", expand=False)
    for column in ("#", "size", "added", "modified", "removed", "wasted", "command"):
        table.add_column(column, justify="right" if column not in ("command",) else "left", overflow="fold")
    for layer in document["layers"]:
        mark = "" if layer["verified"] else " [red]✗[/]"
        table.add_row(
            f"{layer['index']}{mark}",
            human_size(layer["size"]),
            str(layer["added"]),
            str(layer["modified"]),
            str(layer["removed"]),
            human_size(layer["wasted_bytes"]),
            escape(layer["created_by"][:160]),
        )
    out(table)
    waste = document["waste"]
    out(
        f"[bold]efficiency[/] {waste['efficiency'] * 100:.2f} %   [bold]wasted[/] {human_size(waste['wasted_bytes'])} "
        f"({waste['wasted_bytes']} bytes, {waste['wasted_percent']:.2f} % "
        f"of {human_size(waste['stored_bytes'])} stored)"
    )
    for item in waste["files"][:max_items]:
        out(
            f"  {human_size(item['size']):>9}  {escape(item['path'])}  "
            f"(layer {item['layer']}, {item['how']} in layer {item['by_layer']})"
        )
    _more(out, waste["files_total"], max_items)
    removed = document["removed_files"]
    if removed["total"]:
        out(f"[bold]removed later, still readable in their layer[/] ({removed['total']}; `--extract PATH --layer N`)")
        for item in removed["items"][:max_items]:
            out(
                f"  {escape(item['path'])}  layer {item['layer']}, {item['how']} in layer {item['removed_in']}, "
                f"{human_size(item['size'])}"
            )
        _more(out, removed["total"], max_items)
    if document["findings"]:
        out(f"[bold yellow]worth a look[/] ({document['findings_total']})")
        for item in document["findings"][:max_items]:
            where = "" if item["visible"] else " (removed later)"
            detail = f" — {item['detail']}" if item["detail"] else ""
            out(f"  {item['kind']:>14}  {escape(item['path'])}  layer {item['layer']}{where}{escape(detail)}")
        _more(out, document["findings_total"], max_items)
    for warning in document["warnings"]:
        out(f"[bold red]warning:[/] {escape(warning)}")
    ci = document.get("ci")
    if ci is not None:
        if ci["passed"]:
            out("[bold green]CI: every threshold holds[/]")
        for violation in ci["violations"]:
            out(f"[bold red]CI: {escape(violation['message'])}[/]")


def _more(out, total: int, shown: int) -> None:
    if total > shown:
        out(f"  [dim]… and {total - shown} more (--json lists them)[/]")


def _age(days: float | None) -> str:
    return "age unknown" if days is None else f"{days:.0f} days old"


def _os_line(base: dict | None) -> str:
    if not base:
        return "unknown (no /etc/os-release)"
    name = escape(base["pretty_name"] or f"{base['name']} {base['version']}")
    if base["eol"] is True:
        return f"{name} [bold red](end of life since {base['eol_date']})[/]"
    if base["eol"] is False:
        return f"{name} (supported until {base['eol_date']})"
    return f"{name} (end of life unknown)"
