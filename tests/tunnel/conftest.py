"""Shared by the tunnel tests: darse's state folder of the test (the tunnel registry, SSH sockets)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    folder.mkdir()
    monkeypatch.setenv("DARSE_STATE_DIR", str(folder))
    return folder
