"""A real TLS server as the consumer (Debian's `openssl s_server` on LDAPS's port): after `darse certs
sync` of a renewal, the certificate it serves in a real handshake is the new one, and `darse certs
status` says what acme.json, the folder and the process hold."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from darse.certs.probe import ProbeFailed, served_certificate

from helpers.certs import NOW, TestCA
from helpers.certs_repo import OPENSSL_COMMAND, CertsRepo, certs_repo, consumer_labels, openssl_image
from helpers.cli import run_darse

CA = TestCA("darse tls server")
PATIENCE = 30  # seconds for s_server to listen again after its restart


@pytest.fixture
def ldaps(tmp_path: Path, engine):
    image = openssl_image(engine)
    labels = consumer_labels("ldap.example.org", **{"darse.certs.files": "cert=cert.pem,chain=chain.pem,key=key.pem"})
    with certs_repo(tmp_path, engine, image, labels, command=OPENSSL_COMMAND) as repo:
        yield repo


def _served(repo: CertsRepo) -> str:
    """The fingerprint the server presents, once it listens (it restarts after each sync)."""
    port = int(repo.container().ports["636/tcp"][0]["HostPort"])
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            return served_certificate("127.0.0.1", port, server_name="ldap.example.org", timeout=2).fingerprint
        except ProbeFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _status(repo: CertsRepo, *args: str) -> tuple[int, dict]:
    result = run_darse("certs", "status", "--json", *args, cwd=repo.root)
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code, json.loads(result.stdout)


def test_the_server_serves_the_renewed_certificate_after_sync(ldaps: CertsRepo) -> None:
    first = CA.issue("ldap.example.org", not_after=NOW + dt.timedelta(days=60))
    ldaps.publish({"le": [first]})
    code, report = _status(ldaps)
    assert code == 1 and report["consumers"][0]["verdict"] == "missing"  # nothing in its folder yet
    assert run_darse("certs", "sync", cwd=ldaps.root).exit_code == 0
    assert _served(ldaps) == first.fingerprint
    code, report = _status(ldaps)
    consumer = report["consumers"][0]
    assert code == 0 and consumer["verdict"] == "ok", consumer
    assert consumer["on_disk"]["fingerprint"] == consumer["acme"]["fingerprint"] == first.fingerprint
    (served,) = consumer["served"]
    assert served["container_port"] == 636 and served["certificate"]["fingerprint"] == first.fingerprint

    renewed = CA.issue("ldap.example.org", not_after=NOW + dt.timedelta(days=90))
    ldaps.publish({"le": [renewed, first]})
    code, report = _status(ldaps)
    assert report["consumers"][0]["verdict"] == "stale"
    assert run_darse("certs", "sync", cwd=ldaps.root).exit_code == 0
    assert _served(ldaps) == renewed.fingerprint
    assert ldaps.count("starts") == 3  # the first start, then one restart per new certificate
    code, report = _status(ldaps, "--days", "100")
    consumer = report["consumers"][0]
    assert code == 1 and consumer["verdict"] == "expiring" and consumer["days_left"] < 100
    assert consumer["served"][0]["certificate"]["fingerprint"] == renewed.fingerprint
