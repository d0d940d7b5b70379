"""Certificate latency: from Traefik rewriting acme.json to the consumer's reload, with `darse certs watch`
running, side by side with the floor (the same reload sent by hand with `docker kill --signal HUP`).

One consumer (busybox, `darse.certs.reload: signal:HUP`) is started with `docker compose up`; `darse
certs watch` runs as its own process in the repository. Each round writes a new certificate into
acme.json (in place, as Traefik does) and waits for the engine's `kill` event of the consumer; the
latency is the event's time (the engine's clock: this host's) minus the moment before the write. The
floor round sends the signal itself at the same moment. Budget: darse's median under 2 s.
Needs darse with its dependencies (cryptography); removes what it created.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from deploy_support import BASE, ensure_images, run

DOMAIN = "ldap.example.org"
COMPOSE = """\
services:
  ldap:
    image: {image}
    command: ["sh", "-c", "trap 'echo reload' HUP; while true; do sleep 0.1; done"]
    volumes:
      - certs:/etc/ldap/tls:ro
    labels:
      darse.certs.domains: {domain}
      darse.certs.dir: /etc/ldap/tls
      darse.certs.reload: signal:HUP
volumes:
  certs:
"""


def certificate(ca_key: ec.EllipticCurvePrivateKey) -> tuple[bytes, bytes]:
    """A leaf for DOMAIN signed by `ca_key`, and its key: PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return leaf.public_bytes(serialization.Encoding.PEM), key_pem


def acme_json(cert: bytes, key: bytes) -> bytes:
    b64 = base64.b64encode
    entry = {
        "domain": {"main": DOMAIN},
        "certificate": b64(cert).decode(),
        "key": b64(key).decode(),
        "Store": "default",
    }
    return json.dumps({"le": {"Account": {"Email": "bench@example.org"}, "Certificates": [entry]}}, indent=2).encode()


def kill_events(container: str) -> tuple[subprocess.Popen, queue.Queue]:
    """The engine's `kill` events of the container, as their times in seconds, on a queue."""
    process = subprocess.Popen(
        [
            "docker",
            "events",
            "--filter",
            f"container={container}",
            "--filter",
            "event=kill",
            "--format",
            "{{.TimeNano}}",
        ],
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    times: queue.Queue = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip().isdigit():
                times.put(int(line) / 1e9)

    threading.Thread(target=read, daemon=True).start()
    return process, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--poll", action="store_true", help="run the watcher with --poll")
    args = parser.parse_args()
    ensure_images()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    work = Path(tempfile.mkdtemp(prefix="darse-certs-bench-"))
    folder = f"ldap{uuid.uuid4().hex[:8]}"
    (work / folder).mkdir()
    (work / "darse.toml").write_text('[certs]\nacme = "acme.json"\n')
    (work / folder / "compose.yaml").write_text(COMPOSE.format(image=BASE, domain=DOMAIN))
    acme = work / "acme.json"
    acme.write_bytes(acme_json(*certificate(ca_key)))
    run("git", "init", "-q", str(work))
    compose = ["docker", "compose", "-p", folder, "--project-directory", str(work / folder)]
    run(*compose, "up", "-d")
    watcher = None
    events = None
    try:
        container = run(*compose, "ps", "-q", "ldap").stdout.strip()
        command = [sys.executable, "-m", "darse", "certs", "watch"] + (["--poll"] if args.poll else [])
        log = open(work / "watch.log", "w")  # noqa: SIM115 - open for the watcher's whole life
        watcher = subprocess.Popen(command, cwd=work, stdout=log, stderr=subprocess.STDOUT)
        events, times = kill_events(container)
        times.get(timeout=30)  # the first sync installs the first certificate and reloads
        darse, floor = [], []
        for _ in range(args.rounds):
            cert, key = certificate(ca_key)
            start = time.time()
            with open(acme, "r+b") as handle:  # in place, as Traefik writes it
                handle.truncate(0)
                handle.write(acme_json(cert, key))
            darse.append(times.get(timeout=30) - start)
            time.sleep(0.5)
            start = time.time()
            run("docker", "kill", "--signal", "HUP", container)
            floor.append(times.get(timeout=30) - start)
            time.sleep(0.5)
        print(f"rounds: {args.rounds}, watcher: {'polling' if args.poll else 'inotify'}, load {os.getloadavg()[0]:.1f}")
        print(f"darse certs watch: median {statistics.median(darse) * 1000:.0f} ms, max {max(darse) * 1000:.0f} ms")
        print(f"docker kill -s HUP: median {statistics.median(floor) * 1000:.0f} ms, max {max(floor) * 1000:.0f} ms")
        print(
            f"ratio (medians): {statistics.median(darse) / statistics.median(floor):.1f}x; budget: darse under 2000 ms"
        )
    finally:
        if watcher is not None:
            watcher.terminate()
            watcher.wait(timeout=30)
        if events is not None:
            events.terminate()
        run(*compose, "down", "-v", "-t", "0", check=False)
        run("rm", "-rf", str(work), check=False)


if __name__ == "__main__":
    main()
