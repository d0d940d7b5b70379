"""The progress lines `darse backup` draws from restic's status lines: one per item, with the bytes
read and the files, on a terminal only (the CLI asks for none with --json or a pipe)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from darse.backup.run import ItemBackup
from darse.cli import backup as cli
from darse.restic import Status


def test_no_progress_is_asked_for_when_disabled() -> None:
    with cli._progress_bars(enabled=False) as show:
        assert show is None


def test_each_item_gets_its_own_line_with_bytes_and_files(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(cli, "out", Console(file=screen, force_terminal=True, width=120, color_system=None))
    volume = ItemBackup("wiki", "volume", "wiki_files")
    dump = ItemBackup("wiki", "dump", "db")
    with cli._progress_bars(enabled=True) as show:
        assert show is not None
        show(volume, Status(percent=50.0, bytes_done=3_000_000, total_bytes=6_000_000, files_done=7, total_files=9))
        show(dump, Status(percent=0.0, bytes_done=1_500, total_bytes=0, files_done=0, total_files=0))
    drawn = screen.getvalue()
    assert "wiki volume wiki_files" in drawn and "3.0 MB" in drawn and "7 file(s)" in drawn
    assert "wiki dump db" in drawn and "1.5 kB" in drawn
