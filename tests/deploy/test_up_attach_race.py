"""`darse up` tells the engine's overlay-network race (a network it still lists, "not found" while it
tears its copy down) from any other failure: only that one is worth one more `compose up`."""

from __future__ import annotations

from darse.deploy.up import _attach_race


def test_only_the_overlay_teardown_race_is_retried() -> None:
    assert _attach_race("Error response from daemon: network 3dmed16vwze1xzbs9dxj23dch not found")
    assert not _attach_race("network darse-proxy declared as external, but could not be found")
    assert not _attach_race("Error response from daemon: pull access denied for nope, repository does not exist")
    assert not _attach_race("")
