"""`darse inspect IMAGE`: report, `--extract`, `--ls`, `--ci`."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

from darse.errors import DarseError
from darse.fsutil import write_atomic


class Format(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


def _load(source, console: Console):
    """Read the image once, with a progress bar on a terminal."""
    total = source.total_bytes() if console.is_terminal else None
    columns = [
        TextColumn("[bold]reading[/] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(escape(source.reference), total=total)
        return source.load(lambda count: progress.advance(task, count))


def _thresholds(flags: dict):
    """darse.toml's [inspect] (the nearest darse.toml from here up), overridden by the flags given."""
    from darse.config import CONFIG_NAME, load_config
    from darse.images.inspect.ci import from_config, parse_size

    table = None
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / CONFIG_NAME).is_file():
            table = load_config(folder).inspect
            break
    if flags.get("highest_wasted_bytes") is not None:
        flags["highest_wasted_bytes"] = parse_size(flags["highest_wasted_bytes"])
    return from_config(table, f"{CONFIG_NAME} [inspect]").merged(**flags)


def inspect(
    image: str = typer.Argument(..., help="Image name in the engine, archive path, OCI layout, or HOST/REPO:TAG."),
    ls_path: str = typer.Argument(None, metavar="[PATH]", help="With --ls: the folder to list."),
    source_kind: str = typer.Option("auto", "--source", help="auto, engine, archive, oci or registry."),
    platform: str = typer.Option(None, "--platform", help="os/arch[/variant] in a multi-platform index."),
    output_format: Format = typer.Option(Format.text, "--format", "-f", help="Report format."),
    json_flag: bool = typer.Option(False, "--json", help="Same as --format json."),
    output: Path = typer.Option(None, "--output", "-o", help="Report file, or the extracted file with --extract."),
    max_items: int = typer.Option(None, "--max-items", help="Files listed per section [text 20, json 1000]."),
    extract_path: str = typer.Option(None, "--extract", help="Recover this file (needs -o)."),
    layer: int = typer.Option(None, "--layer", help="Layer index for --extract and --ls (0 is the lowest)."),
    ls_flag: bool = typer.Option(
        False, "--ls", help="List the files (of --layer N, else the final ones) [under PATH]."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite the -o file of --extract."),
    max_bytes: str = typer.Option("4GiB", "--max-bytes", help="Largest file --extract writes."),
    ci: bool = typer.Option(
        False, "--ci", help="Check thresholds (flags or [inspect] in darse.toml); exit 1 when crossed."
    ),
    lowest_efficiency: float = typer.Option(None, "--lowest-efficiency", min=0.0, max=1.0, help="CI: ratio 0..1."),
    highest_wasted_bytes: str = typer.Option(None, "--highest-wasted-bytes", help="CI: size, e.g. 20MB."),
    highest_wasted_percent: float = typer.Option(None, "--highest-wasted-percent", min=0.0, help="CI: percent."),
    max_age_days: float = typer.Option(None, "--max-age-days", min=0.0, help="CI: days since the build."),
    forbid_root: bool = typer.Option(None, "--forbid-root/--allow-root", help="CI: fail when it runs as root."),
    forbid_eol: bool = typer.Option(None, "--forbid-eol/--allow-eol", help="CI: fail on an end-of-life base OS."),
) -> None:
    """What an image really contains, layer by layer: sizes, commands, waste, base OS, findings."""
    from darse.images.inspect.sources import open_source

    if ls_path is not None and not ls_flag:
        raise DarseError(f"unexpected argument {ls_path!r}", "a PATH after the image goes with --ls")
    if extract_path is not None and output is None:
        raise DarseError("--extract needs -o FILE", "add -o where the file should be written")
    source = open_source(image, source_kind, platform)  # first: the engine starts its export now

    from darse.images.inspect import report as reporting
    from darse.images.inspect.analysis import analyse

    if json_flag:
        output_format = Format.json
    err = Console(stderr=True, highlight=False)
    limits = (
        _thresholds(
            {
                "lowest_efficiency": lowest_efficiency,
                "highest_wasted_bytes": highest_wasted_bytes,
                "highest_wasted_percent": highest_wasted_percent,
                "max_age_days": max_age_days,
                "forbid_root": forbid_root,
                "forbid_eol": forbid_eol,
            }
        )
        if ci
        else None
    )
    analysis = analyse(_load(source, err))
    if extract_path is not None:
        from darse.images.inspect.ci import parse_size
        from darse.images.inspect.extract import extract

        done = extract(source, analysis, extract_path, layer, output, force, parse_size(max_bytes, "--max-bytes"))
        if output_format is Format.json:
            sys.stdout.write(
                json.dumps({"path": done.path, "layer": done.layer, "size": done.size, "output": str(done.output)})
                + "\n"
            )
        else:
            err.print(
                f"wrote {escape(done.path)} from layer {done.layer} ({done.size} bytes) to {escape(str(done.output))}"
            )
        return
    if ls_flag:
        from darse.images.inspect.extract import listing

        rows = listing(analysis, layer, ls_path)
        if output_format is Format.json:
            _emit(json.dumps(rows, indent=2), output)
        else:
            lines = [
                f"{r['mode'] or r['type']:<10} {r['size']:>12}  {r['path']}{' -> ' + r['link'] if r['link'] else ''}"
                f"{'' if layer is not None else '  (layer ' + str(r['layer']) + ')'}"
                for r in rows
            ]
            _emit("\n".join(lines), output)
        return
    document = reporting.build(analysis, max_items if max_items is not None else 1000)
    violations = []
    if limits is not None:
        from darse.images.inspect.ci import ci_section, evaluate

        violations = evaluate(analysis, limits)
        document["ci"] = ci_section(limits, violations)
    if output_format is Format.json:
        _emit(json.dumps(document, indent=2), output)
    elif output_format is Format.sarif:
        from darse.images.inspect.sarif import render_sarif

        _emit(json.dumps(render_sarif(document), indent=2), output)
    elif output is None:
        reporting.render(document, Console(highlight=False), max_items if max_items is not None else 20)
    else:
        console = Console(record=True, width=140, file=open("/dev/null", "w"))  # noqa: SIM115
        reporting.render(document, console, max_items if max_items is not None else 20)
        _emit(console.export_text(), output)
    raise typer.Exit(1 if violations else 0)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        write_atomic(output, text + "\n")


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
