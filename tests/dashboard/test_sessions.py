"""The signed-out sessions file on a real folder."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from darse.dashboard import sessions
from darse.dashboard.sessions import SignedOutSessions
from darse.errors import DarseError


def test_sign_outs_past_the_bound_are_refused_and_the_file_stays_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signing in and out in a loop (any viewer can) must not grow the file past what is read back: an
    unreadable file refuses every session, and no later sign-out could shrink it."""
    monkeypatch.setattr(sessions, "MAX_FILE_BYTES", 1000)
    signed_out = SignedOutSessions(tmp_path / "dashboard-signed-out")
    later = time.time() + 3600
    recorded = []
    with pytest.raises(DarseError, match="is full"):
        for n in range(100):
            session_id = f"session-{n:04d}-abcdefghij"
            signed_out.add(session_id, later)
            recorded.append(session_id)
    assert recorded and all(session_id in signed_out for session_id in recorded)  # read back, still refused
    assert "another-session-abcdef" not in signed_out
    assert (tmp_path / "dashboard-signed-out").stat().st_size <= 1000
