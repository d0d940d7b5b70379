"""The human view of `darse inspect`'s report, drawn with rich from the JSON document itself."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from darse.cli.output import human_size


def render(document: dict[str, Any], console: Console, max_items: int = 20) -> None:
    """The human view of `darse.images.inspect.report.build()`'s document."""
    image, base = document["image"], document["base_os"]
    source = document["source"]
    out = console.print
    out(
        f"[bold]{escape(source['reference'])}[/] ({source['kind']}"
        f"{', ' + source['platform'] if source['platform'] else ''})"
    )
    if source.get("read") == "store":
        out("  [dim]read from the engine's layer store; layer digests not recomputed (the engine verified them)[/]")
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
        mark = " [red]✗[/]" if layer["verified"] is False else ""
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
