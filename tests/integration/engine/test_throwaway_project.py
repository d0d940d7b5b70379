"""A throwaway Compose project on the real engine (darse.engine.throwaway): its configuration read from
standard input only, created without starting, brought up and waited for, removed whole by `down`; and
the sweep, which removes what a verify killed outright left behind, and only the projects of the
folder it names (`wiki`'s sweep leaves `wiki-db`'s alone)."""

from __future__ import annotations

import secrets
import signal
from pathlib import Path

import docker
import pytest

from darse.backup.throwaway import folder_prefix, throwaway_config, throwaway_name
from darse.engine.connect import connect
from darse.engine.throwaway import PREFIX, VERIFY_LABEL, ThrowawayProject, deferred_interrupt, leftovers, sweep
from darse.errors import DarseError


def project_for(folder: str, tmp_path: Path) -> ThrowawayProject:
    name = throwaway_name(folder)
    resolved = {
        "services": {
            "app": {
                "image": "busybox:1.36",
                "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
                "healthcheck": {"test": ["CMD", "true"], "interval": "1s", "retries": 30},
                "volumes": [{"type": "volume", "source": "data", "target": "/srv"}],
            }
        },
        "volumes": {"data": {}},
    }
    return ThrowawayProject(name, throwaway_config(resolved, name, nocopy={"data"}), tmp_path)


@pytest.fixture
def darse_engine():
    engine = connect()
    yield engine
    engine.close()


def test_a_project_is_created_started_and_removed_whole(
    tmp_path: Path, engine: docker.DockerClient, busybox, darse_engine
) -> None:
    folder = f"t{secrets.token_hex(4)}"
    project = project_for(folder, tmp_path)
    try:
        created = project.create()
        assert created.ok, created.output
        (container,) = engine.containers.list(all=True, filters={"label": f"{VERIFY_LABEL}={project.project}"})
        assert container.status == "created"
        volume = engine.volumes.get(f"{project.project}_data")
        assert volume.attrs["Labels"][VERIFY_LABEL] == project.project
        assert not list(tmp_path.iterdir())  # the configuration was never written beside the folder

        up = project.up(60)
        assert up.ok, up.output
        container.reload()
        assert container.status == "running" and container.attrs["HostConfig"]["RestartPolicy"]["Name"] in ("no", "")
        network = next(iter(container.attrs["NetworkSettings"]["Networks"]))
        assert engine.networks.get(network).attrs["Internal"] is True
        assert leftovers(darse_engine, project.project)
    finally:
        down = project.down()
    assert down.ok, down.output
    assert not leftovers(darse_engine, project.project)
    assert not engine.volumes.list(filters={"label": f"{VERIFY_LABEL}={project.project}"})


def test_the_sweep_removes_a_folders_leftovers_and_no_other_folders(
    tmp_path: Path, engine: docker.DockerClient, busybox, darse_engine
) -> None:
    folder = f"t{secrets.token_hex(4)}"
    mine = project_for(folder, tmp_path)
    other = project_for(f"{folder}-db", tmp_path)  # its prefix starts with mine's
    try:
        assert mine.create().ok and other.create().ok
        assert mine.up(60).ok
        assert leftovers(darse_engine, folder_prefix(folder)).volumes == [f"{mine.project}_data"]
        remaining = sweep(darse_engine, folder_prefix(folder))
        assert not remaining
        assert not engine.containers.list(all=True, filters={"label": f"{VERIFY_LABEL}={mine.project}"})
        assert not engine.networks.list(filters={"label": f"{VERIFY_LABEL}={mine.project}"})
        still = leftovers(darse_engine, folder_prefix(f"{folder}-db"))
        assert still.containers and still.volumes == [f"{other.project}_data"] and still.networks
    finally:
        mine.down()
        other.down()
    assert not leftovers(darse_engine, folder_prefix(f"{folder}-db"))


def test_volumes_a_restore_fills_stay_empty_when_created(
    tmp_path: Path, engine: docker.DockerClient, busybox, darse_engine
) -> None:
    """The engine copies an image's files into an empty volume mounted over them when the container is
    created; a restore goes only into an empty volume, so the volumes it fills are mounted `nocopy`."""
    name = throwaway_name(f"t{secrets.token_hex(4)}")
    mount = {"type": "volume", "target": "/bin"}
    resolved = {
        "services": {
            "filled": {"image": "busybox:1.36", "volumes": [{**mount, "source": "filled"}]},
            "fresh": {"image": "busybox:1.36", "volumes": [{**mount, "source": "fresh"}]},
        },
        "volumes": {"filled": {}, "fresh": {}},
    }
    project = ThrowawayProject(name, throwaway_config(resolved, name, nocopy={"filled"}), tmp_path)
    try:
        assert project.create().ok
        filled = Path(engine.volumes.get(f"{name}_filled").attrs["Mountpoint"])
        fresh = Path(engine.volumes.get(f"{name}_fresh").attrs["Mountpoint"])
        assert not list(filled.iterdir())
        assert (fresh / "busybox").is_file()  # the image's /bin, as production's volume got it
    finally:
        assert project.down().ok
    assert not leftovers(darse_engine, name)


def test_only_throwaway_projects_can_be_swept(darse_engine) -> None:
    with pytest.raises(DarseError):
        sweep(darse_engine, "wiki")
    with pytest.raises(DarseError):
        ThrowawayProject("wiki", {"services": {}}, Path("/"))
    assert PREFIX == "darse-verify-"


def test_ctrl_c_during_a_removal_is_held_back_until_it_ends() -> None:
    before = signal.getsignal(signal.SIGINT)
    finished = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupt():
        signal.raise_signal(signal.SIGINT)
        finished.append("the removal went on")
    assert finished == ["the removal went on"]
    assert signal.getsignal(signal.SIGINT) is before  # the handler it found is back
