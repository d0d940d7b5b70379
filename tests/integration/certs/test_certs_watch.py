"""`darse certs watch` as a process, against the real engine: acme.json rewritten 100 times (in place and
by rename, with writes cut in the middle in between) through 3 distinct certificates. The consumer
records, at each reload (SIGHUP), the digests of the certificate and key it then has: every pair
must be one Traefik issued (no cut or mixed file ever installed), at most one reload per distinct
certificate, and the last one installed is the last one written. Counted, not timed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.certs import TestCA, acme_v2
from helpers.certs_repo import CertsRepo, certs_repo, consumer_labels

CA = TestCA("darse churn")
PATIENCE = 30.0  # seconds for the watcher to react to a phase (bounds a wait, asserts nothing)

RECORDING_COMMAND = """\
    command:
      - sh
      - -c
      - >-
        echo start >> /state/starts; d=/etc/ldap/tls;
        trap 'echo "$(sha256sum < $$d/cert.pem | cut -c1-64) $(sha256sum < $$d/key.pem | cut -c1-64)"
        >> /state/reloads' HUP;
        while true; do sleep 0.1; done
"""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def consumer(tmp_path: Path, engine, busybox):
    labels = consumer_labels("mail.example.org", **{"darse.certs.reload": "signal:HUP"})
    with certs_repo(tmp_path, engine, "busybox:1.36", labels, command=RECORDING_COMMAND) as repo:
        yield repo


@pytest.fixture
def watcher(consumer: CertsRepo, tmp_path: Path):
    """`darse certs watch` running in the repository; its log in a file."""
    log = tmp_path / "watch.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "darse", "certs", "watch", "--debounce", "0.3"],
            cwd=consumer.root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # "watching ...", then the first sync's line (acme.json does not exist yet: it fails and waits)
        _wait(lambda: len(log.read_text().splitlines()) >= 2, "the first sync")
        yield process, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"waited {PATIENCE} s for {what}"
        time.sleep(0.1)


def _reloads(repo: CertsRepo) -> list[tuple[str, str]]:
    text = repo.sh("cat /state/reloads 2>/dev/null || true")
    return [tuple(line.split()) for line in text.splitlines() if line.strip()]


def test_a_burst_of_rewrites_reloads_once_per_distinct_certificate(consumer: CertsRepo, watcher) -> None:
    process, log = watcher
    issued = [CA.issue("mail.example.org") for _ in range(3)]
    pairs = {(_digest(i.leaf_pem), _digest(i.key_pem)) for i in issued}
    documents = [json.dumps(acme_v2({"le": [i]}), indent=2).encode() for i in issued]
    writes = 0
    for phase, document in enumerate(documents):
        for step in range(34 if phase < 2 else 32):
            if step % 3 == 1:  # Traefik caught mid-write: the first half, then the rest a moment later
                with consumer.acme.open("wb") as half:
                    half.write(document[: len(document) // 2])
                time.sleep(0.01)
            if step % 2:
                consumer.acme.write_bytes(document)
            else:  # replaced by a rename, as some tools write it
                fresh = consumer.acme.with_name("acme.json.tmp")
                fresh.write_bytes(document)
                os.replace(fresh, consumer.acme)
            writes += 1
            time.sleep(0.005)
        wanted = (_digest(issued[phase].leaf_pem), _digest(issued[phase].key_pem))
        _wait(lambda wanted=wanted: wanted in _reloads(consumer), f"certificate {phase + 1} to be installed")
    assert writes == 100
    reloads = _reloads(consumer)
    assert set(reloads) <= pairs, "a reload found a certificate and key that Traefik never issued together"
    assert 3 >= len(reloads) >= 1
    assert reloads[-1] == (_digest(issued[2].leaf_pem), _digest(issued[2].key_pem))
    assert consumer.read("/etc/ldap/tls/cert.pem") == issued[2].leaf_pem
    assert process.poll() is None, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text and "BEGIN" not in text
    assert "installed" in text
