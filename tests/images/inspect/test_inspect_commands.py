"""`darse.images.inspect.commands`: inspect's three uses as library calls, without the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from darse.errors import DarseError
from darse.images.inspect import extract_file, inspect_report, list_files, thresholds
from darse.images.inspect.ci import Thresholds
from darse.progress import Event

from helpers.inspect_tars import docker_save, layer_tar, member


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    base = layer_tar(member("bin/"), member("bin/sh", b"\x7fELF" + b"x" * 2000, mode=0o755),
                     member("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'))  # fmt: skip
    top = layer_tar(member("app/"), member("app/big.bin", b"y" * 5000), member("etc/.wh.os-release"))
    path = tmp_path / "image.tar"
    path.write_bytes(docker_save([base, top], User="root"))
    return path


def test_report_reports_bytes_read_as_events(archive: Path) -> None:
    events: list[Event] = []
    report = inspect_report(str(archive), listener=events.append)
    task = f"reading {archive}"
    assert {e.task for e in events} == {task}
    assert all(e.total == archive.stat().st_size for e in events)
    assert sum(e.advance for e in events) > 0 and events[-1].done
    document = report.to_dict()
    assert document["schema"] == "darse.inspect/1" and "ci" not in document
    assert report.passed and report.violations == []
    assert report.to_sarif()["runs"][0]["tool"]["driver"]["name"]
    json.dumps(document)


def test_report_with_thresholds_holds_the_violations(archive: Path) -> None:
    report = inspect_report(str(archive), thresholds=Thresholds(forbid_root=True), max_items=1)
    assert not report.passed
    assert [v.rule for v in report.violations] == ["forbid-root"]
    assert report.to_dict()["ci"]["violations"][0]["rule"] == "forbid-root"


def test_extract_and_list(archive: Path, tmp_path: Path) -> None:
    done = extract_file(str(archive), "/etc/os-release", tmp_path / "os-release", layer=0)
    assert done.to_dict() == {"path": "/etc/os-release", "layer": 0, "size": 26, "output": str(tmp_path / "os-release")}
    assert (tmp_path / "os-release").read_bytes() == b'ID=debian\nVERSION_ID="12"\n'
    with pytest.raises(DarseError, match="extraction limit"):
        extract_file(str(archive), "/app/big.bin", tmp_path / "big", max_bytes=10)
    rows = list_files(str(archive), "/app")
    assert [r["path"] for r in rows] == ["/app/big.bin"]
    assert [r["path"] for r in list_files(str(archive), layer=0)] == ["/bin", "/bin/sh", "/etc/os-release"]


def test_thresholds_from_the_nearest_darse_toml_and_flags(tmp_path: Path) -> None:
    (tmp_path / "darse.toml").write_text("[inspect]\nforbid_eol = true\nlowest_efficiency = 0.5\n")
    below = tmp_path / "a" / "b"
    below.mkdir(parents=True)
    limits = thresholds(below, {"lowest_efficiency": 0.9, "highest_wasted_bytes": "2kB", "forbid_root": None})
    assert limits == Thresholds(lowest_efficiency=0.9, highest_wasted_bytes=2000, forbid_eol=True)
    (tmp_path / "darse.toml").write_text("[inspect]\nforbid_everything = true\n")
    with pytest.raises(DarseError, match="forbid_everything"):
        thresholds(below, {})
