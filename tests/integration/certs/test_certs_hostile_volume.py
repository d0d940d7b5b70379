"""`darse certs sync` into a volume its consumer prepared against it: links planted at the staging folder
and at the file names, a folder, a FIFO or a huge file where a file belongs. Every file still ends
where it belongs, as a regular file with its owner and mode, and the key is written nowhere else."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import docker
import pytest

from darse.engine.certs import HELPER_LABEL

from helpers.certs import TestCA
from helpers.certs_repo import CertsRepo, certs_repo, consumer_labels
from helpers.cli import run_darse

CA = TestCA()


@pytest.fixture
def ldap(tmp_path: Path, engine, busybox):
    labels = consumer_labels("ldap.example.org", **{"darse.certs.reload": "signal:HUP"})
    with certs_repo(tmp_path, engine, "busybox:1.36", labels) as repo:
        yield repo


def _plant(repo: CertsRepo, script: str) -> None:
    """Run `script` in a throwaway container with the consumer's certificate volume at /c."""
    repo.engine.containers.run(
        "busybox:1.36",
        ["sh", "-c", script],
        volumes={f"{repo.project}_certs": {"bind": "/c", "mode": "rw"}},
        remove=True,
    )


def _sync(repo: CertsRepo) -> dict:
    result = run_darse("certs", "sync", "--json", cwd=repo.root)
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_links_folders_and_fifos_at_the_names_are_replaced_by_the_files(ldap: CertsRepo) -> None:
    _plant(
        ldap,
        "mkdir -p /c/elsewhere && ln -s /c/elsewhere /c/.darse-certs && mkdir /c/key.pem && touch /c/key.pem/x"
        " && mkfifo /c/cert.pem && dd if=/dev/zero of=/c/fullchain.pem bs=1024 count=2048 2>/dev/null",
    )
    issued = CA.issue("ldap.example.org")
    ldap.publish({"le": [issued]})
    report = _sync(ldap)
    assert report["consumers"][0]["outcome"] == "installed", report
    assert ldap.read("/etc/ldap/tls/key.pem") == issued.key_pem
    assert ldap.read("/etc/ldap/tls/cert.pem") == issued.leaf_pem
    assert ldap.read("/etc/ldap/tls/fullchain.pem") == issued.chain_pem
    assert ldap.stat("/etc/ldap/tls/key.pem") == "0:0 600"
    # the key went nowhere else: the planted link was replaced by a folder of darse's own
    assert ldap.sh("ls -A /etc/ldap/tls/elsewhere").strip() == ""
    assert ldap.sh("stat -c '%F %a' /etc/ldap/tls/.darse-certs").strip() == "directory 700"
    assert _sync(ldap)["consumers"][0]["outcome"] == "unchanged"
    assert ldap.count("reloads") == 1


def test_a_link_planted_at_the_folder_is_refused_not_followed(tmp_path: Path, engine, busybox) -> None:
    """The engine would follow it inside the helper's root: the files lost, and the consumer reloaded
    at every sync for a certificate it never gets. The sync fails instead, and reloads nothing."""
    labels = consumer_labels("ldap.example.org", **{"darse.certs.dir": "/etc/ldap/tls/sub/certs"})
    with certs_repo(tmp_path, engine, "busybox:1.36", labels) as repo:
        _plant(repo, "ln -s /etc /c/sub")
        repo.publish({"le": [CA.issue("ldap.example.org")]})
        result = run_darse("certs", "sync", "--json", cwd=repo.root)
        assert result.exit_code == 1, result.stderr
        (consumer,) = json.loads(result.stdout)["consumers"]
        assert consumer["outcome"] == "failed" and consumer["reloaded"] == []
        assert "/etc/ldap/tls/sub in the consumer's volume is a link, not a folder" in consumer["detail"]
        assert repo.count("starts") == 1


def test_missing_folders_below_the_mount_are_created_and_existing_ones_kept(tmp_path: Path, engine, busybox) -> None:
    labels = consumer_labels("ldap.example.org", **{"darse.certs.dir": "/etc/ldap/tls/a/b/c"})
    with certs_repo(tmp_path, engine, "busybox:1.36", labels) as repo:
        _plant(repo, "mkdir -p /c/a && chmod 0711 /c/a")
        issued = CA.issue("ldap.example.org")
        repo.publish({"le": [issued]})
        assert _sync(repo)["consumers"][0]["outcome"] == "installed"
        assert repo.read("/etc/ldap/tls/a/b/c/key.pem") == issued.key_pem
        assert repo.sh("stat -c '%a' /etc/ldap/tls/a /etc/ldap/tls/a/b").split() == ["711", "755"]


@pytest.mark.parametrize(
    "script",
    ["cat /etc/ldap/tls/key.pem; exit 3", "tr -d '[:space:]' < /etc/ldap/tls/key.pem; exit 3"],
    ids=["pem", "one-line"],
)
def test_a_failing_reload_that_prints_the_key_is_reported_without_it(tmp_path: Path, engine, busybox, script) -> None:
    labels = consumer_labels("ldap.example.org", **{"darse.certs.reload": f"exec:sh -c \\\"{script}\\\""})
    with certs_repo(tmp_path, engine, "busybox:1.36", labels) as repo:
        issued = CA.issue("ldap.example.org")
        repo.publish({"le": [issued]})
        body = b"".join(issued.key_pem.splitlines()[1:-1]).decode()
        for args in (("--json",), ()):
            result = run_darse("certs", "sync", *args, cwd=repo.root)
            assert result.exit_code == 1 and "exited with 3" in result.stdout, result.stdout
            assert "withheld" in result.stdout
            for line in body[:40], body[-40:], "PRIVATE KEY":
                assert line not in result.stdout + result.stderr
            _plant(repo, "rm /c/*.pem")  # so that the next sync installs and reloads again


def test_a_reload_that_failed_is_done_again_by_the_next_sync(tmp_path: Path, engine, busybox) -> None:
    """The files are in place after a failed reload: without a record of it, the next sync would find
    them unchanged and the consumer would serve its old certificate until it expires."""
    command = "exec:sh -c 'test ! -e /state/fail && echo reloaded >> /state/reloads'"
    labels = consumer_labels("ldap.example.org", **{"darse.certs.reload": command})
    with certs_repo(tmp_path, engine, "busybox:1.36", labels) as repo:
        repo.sh("touch /state/fail")
        issued = CA.issue("ldap.example.org")
        repo.publish({"le": [issued]})
        assert _sync(repo)["consumers"][0]["outcome"] == "failed"
        assert repo.read("/etc/ldap/tls/key.pem") == issued.key_pem
        again = _sync(repo)["consumers"][0]
        assert again["outcome"] == "failed" and "exited with 1" in again["detail"]
        repo.sh("rm /state/fail")
        done = _sync(repo)["consumers"][0]
        assert done["outcome"] == "installed" and done["reloaded"] and "reloaded now" in done["detail"]
        assert repo.count("reloads") == 1
        assert _sync(repo)["consumers"][0]["outcome"] == "unchanged"
        assert repo.count("reloads") == 1


def test_a_reload_command_that_never_ends_is_a_failure_not_a_hang(
    tmp_path: Path, engine, busybox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`exec:` of the daemon itself instead of its reload would hold the sync, and the watcher with
    it, for ever: every later renewal of every consumer would wait."""
    import darse.engine.certs

    monkeypatch.setattr(darse.engine.certs, "RELOAD_TIMEOUT", 2.0)
    labels = consumer_labels("ldap.example.org", **{"darse.certs.reload": "exec:sleep 3600"})
    with certs_repo(tmp_path, engine, "busybox:1.36", labels) as repo:
        repo.publish({"le": [CA.issue("ldap.example.org")]})
        result = run_darse("certs", "sync", "--json", cwd=repo.root)
        assert result.exit_code == 1, result.stdout
        (consumer,) = json.loads(result.stdout)["consumers"]
        assert consumer["outcome"] == "failed"
        name = repo.container().name
        assert consumer["detail"] == f"the reload command 'sleep' still runs in {name} after 2 s"


def test_no_output_of_sync_or_status_holds_the_key(ldap: CertsRepo) -> None:
    """Every command's output, text and JSON, installing, unchanged, renewed and failing: never a
    line of the private key (it is read back from the folder to be compared, and written there)."""
    first, second = CA.issue("ldap.example.org"), CA.issue("ldap.example.org")
    outputs = []
    for issued in (first, second):
        ldap.publish({"le": [issued]})
        for args in (("sync", "--dry-run"), ("sync", "--json"), ("sync",), ("status", "--json"), ("status",)):
            result = run_darse("certs", *args, cwd=ldap.root)
            outputs.append(result.stdout + result.stderr)
    _plant(ldap, "echo damaged > /c/cert.pem && echo damaged > /c/key.pem")
    result = run_darse("certs", "status", "--json", cwd=ldap.root)
    outputs.append(result.stdout + result.stderr)
    text = "\n".join(outputs)
    assert "installed" in text and "up to date" in text
    for issued in (first, second):
        for line in issued.key_pem.decode().splitlines()[1:-1]:
            assert line not in text
    assert "PRIVATE KEY" not in text


def test_a_helper_left_by_a_killed_sync_is_removed_by_the_next_write(
    ldap: CertsRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A darse killed between creating its helper and removing it leaves the consumer's volume held."""
    import darse.engine.certs

    name = ldap.container().name
    left = ldap.engine.containers.create(
        "busybox:1.36",
        ["darse-certs-helper"],
        labels={HELPER_LABEL: name},
        volumes={f"{ldap.project}_certs": {"bind": "/c", "mode": "rw"}},
    )
    try:
        monkeypatch.setattr(darse.engine.certs, "STALE_HELPER", -1)  # every older helper of it is stale
        ldap.publish({"le": [CA.issue("ldap.example.org")]})
        assert _sync(ldap)["consumers"][0]["outcome"] == "installed"
        assert not ldap.engine.containers.list(all=True, filters={"label": f"{HELPER_LABEL}={name}"})
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            left.remove(force=True)
