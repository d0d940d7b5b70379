"""`darse inspect IMAGE`: report, `--extract`, `--ls`, `--ci`."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from darse import api
from darse.cli.output import print_json, progress_display
from darse.errors import DarseError
from darse.fsutil import write_atomic


class Format(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


def inspect(
    image: str = typer.Argument(..., help="Image name in the engine, archive path, OCI layout, or HOST/REPO:TAG."),
    ls_path: str = typer.Argument(None, metavar="[PATH]", help="With --ls: the folder to list."),
    source_kind: str = typer.Option("auto", "--source", help="auto, engine, archive, oci or registry."),
    platform: str = typer.Option(None, "--platform", help="os/arch[/variant] in a multi-platform index."),
    read: str = typer.Option(
        "auto", "--read", help="Local engine: store (its layer directories, as root) or export; auto: store if it can."
    ),
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

    if ls_path is not None and not ls_flag:
        raise DarseError(f"unexpected argument {ls_path!r}", "a PATH after the image goes with --ls")
    if extract_path is not None and output is None:
        raise DarseError("--extract needs -o FILE", "add -o where the file should be written")
    if json_flag:
        output_format = Format.json
    err = Console(stderr=True, highlight=False)
    where = {"source": source_kind, "platform": platform, "read": read}
    limits = None  # read even for --extract and --ls: a broken [inspect] is reported either way
    if ci:
        flags = {
            "lowest_efficiency": lowest_efficiency,
            "highest_wasted_bytes": highest_wasted_bytes,
            "highest_wasted_percent": highest_wasted_percent,
            "max_age_days": max_age_days,
            "forbid_root": forbid_root,
            "forbid_eol": forbid_eol,
        }
        limits = api.inspect_thresholds(Path.cwd(), flags)
    if extract_path is not None:
        from darse.images.inspect.ci import parse_size

        limit = parse_size(max_bytes, "--max-bytes")
        with progress_display(err.is_terminal, err, bytes_=True) as listener:
            done = api.extract_file(
                image, extract_path, output, **where, layer=layer, force=force, max_bytes=limit, listener=listener
            )
        if output_format is Format.json:
            print_json(done.to_dict(), indent=None)
        else:
            err.print(
                f"wrote {escape(done.path)} from layer {done.layer} ({done.size} bytes) to {escape(str(done.output))}"
            )
        return
    if ls_flag:
        with progress_display(err.is_terminal, err, bytes_=True) as listener:
            rows = api.list_files(image, ls_path, **where, layer=layer, listener=listener)
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
    with progress_display(err.is_terminal, err, bytes_=True) as listener:
        report = api.inspect(
            image, **where, max_items=max_items if max_items is not None else 1000, thresholds=limits, listener=listener
        )
    if output_format is Format.json:
        _emit(json.dumps(report.to_dict(), indent=2), output)
    elif output_format is Format.sarif:
        _emit(json.dumps(report.to_sarif(), indent=2), output)
    else:
        from darse.cli.inspect_view import render

        shown = max_items if max_items is not None else 20
        if output is None:
            render(report.document, Console(highlight=False), shown)
        else:
            console = Console(record=True, width=140, file=open("/dev/null", "w"))  # noqa: SIM115
            render(report.document, console, shown)
            _emit(console.export_text(), output)
    raise typer.Exit(0 if report.passed else 1)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        write_atomic(output, text + "\n")


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
