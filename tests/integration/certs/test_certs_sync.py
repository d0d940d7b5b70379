"""`darse certs sync` on the real engine: files written into the consumer's read-only volume through a
helper container, with their owner and mode; a reload exactly once per new certificate, never for an
unchanged one; an expired certificate never installed over a valid one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from darse import api
from darse.engine.certs import HELPER_LABEL
from darse.engine.docker_py import DockerPyAPI

from helpers.certs import NOW, TestCA, acme_v1, write_acme
from helpers.certs_repo import CertsRepo, certs_repo, consumer_labels
from helpers.cli import run_darse

CA = TestCA()


@pytest.fixture
def ldap(tmp_path: Path, engine, busybox):
    labels = consumer_labels(
        "ldap.example.org",
        **{
            "darse.certs.owner": "389:389",
            "darse.certs.reload": "signal:HUP",
            "darse.certs.files": "cert=cert.pem,chain=chain.pem,fullchain=fullchain.pem,key=key.pem,combined=all.pem",
        },
    )
    with certs_repo(tmp_path, engine, "busybox:1.36", labels) as repo:
        yield repo


def _sync(repo: CertsRepo, *args: str) -> dict:
    result = run_darse("certs", "sync", "--json", *args, cwd=repo.root)
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_sync_writes_every_file_with_owner_and_mode_and_signals_once(ldap: CertsRepo, engine) -> None:
    issued = CA.issue("ldap.example.org")
    ldap.publish({"le": [issued]})
    report = _sync(ldap)
    (only,) = report["consumers"]
    assert only["outcome"] == "installed" and only["certificate"]["fingerprint"] == issued.fingerprint
    assert ldap.read("/etc/ldap/tls/cert.pem") == issued.leaf_pem
    assert ldap.read("/etc/ldap/tls/fullchain.pem") == issued.chain_pem
    assert ldap.read("/etc/ldap/tls/chain.pem") == issued.chain_pem[len(issued.leaf_pem) :]
    assert ldap.read("/etc/ldap/tls/key.pem") == issued.key_pem
    assert ldap.read("/etc/ldap/tls/all.pem") == issued.chain_pem + issued.key_pem
    assert ldap.stat("/etc/ldap/tls/key.pem") == "389:389 600"
    assert ldap.stat("/etc/ldap/tls/all.pem") == "389:389 600"
    assert ldap.stat("/etc/ldap/tls/cert.pem") == "389:389 644"
    assert ldap.count("reloads") == 1 and ldap.count("starts") == 1
    # no helper container is left behind
    assert not engine.containers.list(all=True, filters={"label": HELPER_LABEL})


def test_an_unchanged_certificate_reloads_nothing_and_a_renewal_reloads_once(ldap: CertsRepo) -> None:
    first = CA.issue("ldap.example.org")
    ldap.publish({"le": [first]})
    assert _sync(ldap)["consumers"][0]["outcome"] == "installed"
    assert _sync(ldap)["consumers"][0]["outcome"] == "unchanged"
    assert ldap.count("reloads") == 1
    renewed = CA.issue("ldap.example.org", not_after=NOW + dt.timedelta(days=120))
    ldap.publish({"le": [first, renewed]})  # Traefik keeps the old one until it is replaced
    report = _sync(ldap)["consumers"][0]
    assert report["outcome"] == "installed" and report["replaced"] == first.fingerprint
    assert report["certificate"]["fingerprint"] == renewed.fingerprint
    assert ldap.read("/etc/ldap/tls/cert.pem") == renewed.leaf_pem
    assert ldap.count("reloads") == 2
    assert _sync(ldap)["consumers"][0]["outcome"] == "unchanged"
    assert ldap.count("reloads") == 2


def test_an_expired_certificate_is_never_installed_over_a_valid_one(ldap: CertsRepo) -> None:
    valid = CA.issue("ldap.example.org")
    ldap.publish({"le": [valid]})
    _sync(ldap)
    expired = CA.issue(
        "ldap.example.org", not_before=NOW - dt.timedelta(days=100), not_after=NOW - dt.timedelta(days=1)
    )
    ldap.publish({"le": [expired]})
    result = run_darse("certs", "sync", "--json", cwd=ldap.root)
    assert result.exit_code == 1, result.stdout
    consumer = json.loads(result.stdout)["consumers"][0]
    assert consumer["outcome"] == "no-certificate" and "expired" in consumer["detail"]
    assert ldap.read("/etc/ldap/tls/cert.pem") == valid.leaf_pem
    assert ldap.count("reloads") == 1


def test_a_wildcard_certificate_serves_the_consumer_and_a_changed_mode_is_corrected_without_reload(
    ldap: CertsRepo,
) -> None:
    wildcard = CA.issue("example.org", "*.example.org")
    ldap.publish({"le": [CA.issue("other.example.net"), wildcard]})
    assert _sync(ldap)["consumers"][0]["certificate"]["fingerprint"] == wildcard.fingerprint
    ldap.engine.containers.run(  # someone loosens the key's mode by hand
        "busybox:1.36",
        ["chmod", "644", "/c/key.pem"],
        volumes={f"{ldap.project}_certs": {"bind": "/c", "mode": "rw"}},
        remove=True,
    )
    again = _sync(ldap)["consumers"][0]
    assert again["outcome"] == "installed" and "no reload" in again["detail"]
    assert ldap.stat("/etc/ldap/tls/key.pem") == "389:389 600"
    assert ldap.count("reloads") == 1


def test_dry_run_writes_nothing(ldap: CertsRepo) -> None:
    ldap.publish({"le": [CA.issue("ldap.example.org")]})
    consumer = _sync(ldap, "--dry-run")["consumers"][0]
    assert consumer["outcome"] == "installed" and "dry run" in consumer["detail"]
    assert ldap.sh("ls -A /etc/ldap/tls").strip() == ""
    assert ldap.count("reloads") == 0


def test_restart_and_exec_reloads(tmp_path: Path, engine, busybox, monkeypatch: pytest.MonkeyPatch) -> None:
    restarts: list[int] = []
    real_restart = DockerPyAPI.restart

    def restart(api: DockerPyAPI, container: str, timeout: int = 10) -> None:
        restarts.append(timeout)
        real_restart(api, container, timeout=timeout)

    monkeypatch.setattr(DockerPyAPI, "restart", restart)
    labels = consumer_labels("ldap.example.org", **{"darse.certs.reload": "restart"})
    with certs_repo(tmp_path / "restart", engine, "busybox:1.36", labels) as repo:
        repo.publish({"le": [CA.issue("ldap.example.org")]})
        assert _sync(repo)["consumers"][0]["reloaded"]
        assert repo.count("starts") == 2 and repo.count("reloads") == 0
    assert restarts == [1]  # the consumer's own stop_grace_period (helpers/certs_repo.py), not darse's 10 s
    command = "exec:sh -c 'echo reloaded-by-exec >> /state/reloads'"
    labels = consumer_labels("ldap.example.org", **{"darse.certs.reload": command})
    with certs_repo(tmp_path / "exec", engine, "busybox:1.36", labels) as repo:
        repo.publish({"le": [CA.issue("ldap.example.org")]})
        _sync(repo)
        assert repo.sh("cat /state/reloads").strip() == "reloaded-by-exec"
        assert repo.count("starts") == 1


def test_a_failing_exec_reload_is_reported_and_exits_1(tmp_path: Path, engine, busybox) -> None:
    labels = consumer_labels("ldap.example.org", **{"darse.certs.reload": "exec:false"})
    with certs_repo(tmp_path, engine, "busybox:1.36", labels) as repo:
        repo.publish({"le": [CA.issue("ldap.example.org")]})
        result = run_darse("certs", "sync", cwd=repo.root)
        assert result.exit_code == 1
        assert "exited with 1" in result.stdout


def test_a_consumer_not_deployed_is_said_and_nothing_is_written(tmp_path: Path, engine, busybox) -> None:
    with certs_repo(tmp_path, engine, "busybox:1.36", consumer_labels("ldap.example.org")) as repo:
        repo.compose("down", "-v", "-t", "0")
        repo.publish({"le": [CA.issue("ldap.example.org")]})
        report = _sync(repo)
        assert report["consumers"][0]["outcome"] == "not-deployed"


def test_a_symlink_planted_in_the_volume_sends_no_write_outside_it(ldap: CertsRepo, tmp_path: Path) -> None:
    """The consumer (or whoever owns its volume) links cert.pem to a host path: the engine resolves
    it inside the helper container, so the host file is untouched."""
    target = tmp_path / "host-file"
    target.write_text("host")
    ldap.engine.containers.run(
        "busybox:1.36",
        ["sh", "-c", f"ln -s {target} /c/cert.pem && mkdir -p /c/.darse-certs && ln -s /etc /c/.darse-certs/x"],
        volumes={f"{ldap.project}_certs": {"bind": "/c", "mode": "rw"}},
        remove=True,
    )
    issued = CA.issue("ldap.example.org")
    ldap.publish({"le": [issued]})
    _sync(ldap)
    assert target.read_text() == "host"
    assert ldap.read("/etc/ldap/tls/cert.pem") == issued.leaf_pem


def test_the_api_sync_returns_the_report(ldap: CertsRepo) -> None:
    ldap.publish({"le": [CA.issue("ldap.example.org")]})
    report = api.sync_certificates(ldap.root)
    assert report.ok and report.consumers[0].changed


def test_a_folder_outside_every_mount_is_a_failure_not_a_write(tmp_path: Path, engine, busybox) -> None:
    labels = consumer_labels("ldap.example.org", **{"darse.certs.dir": "/opt/certs"})
    with certs_repo(tmp_path, engine, "busybox:1.36", labels) as repo:
        repo.publish({"le": [CA.issue("ldap.example.org")]})
        result = run_darse("certs", "sync", "--json", cwd=repo.root)
        assert result.exit_code == 1
        consumer = json.loads(result.stdout)["consumers"][0]
        assert consumer["outcome"] == "failed" and "CT004" in consumer["detail"]
        assert repo.count("reloads") == 0


def test_traefik_v1_files_and_the_resolver_a_consumer_names(tmp_path: Path, engine, busybox) -> None:
    labels = consumer_labels("ldap.example.org", **{"darse.certs.resolver": "dns"})
    with certs_repo(tmp_path, engine, "busybox:1.36", labels) as repo:
        http_one, dns_one = CA.issue("ldap.example.org"), CA.issue("ldap.example.org", "*.example.org")
        repo.publish({"http": [http_one], "dns": [dns_one]})
        assert _sync(repo)["consumers"][0]["certificate"]["fingerprint"] == dns_one.fingerprint
        v1 = CA.issue("ldap.example.org", not_after=NOW + dt.timedelta(days=200))
        write_acme(repo.acme, acme_v1(v1))  # Traefik v1 has no resolvers: the label cannot match any
        consumer = _sync(repo)["consumers"][0]
        assert consumer["outcome"] == "no-certificate" and "resolver dns" in consumer["detail"]
        assert repo.read("/etc/ldap/tls/cert.pem") == dns_one.leaf_pem  # kept
    with certs_repo(tmp_path / "v1", engine, "busybox:1.36", consumer_labels("ldap.example.org")) as repo:
        write_acme(repo.acme, acme_v1(v1))
        assert _sync(repo)["consumers"][0]["outcome"] == "installed"
        assert repo.read("/etc/ldap/tls/cert.pem") == v1.leaf_pem
