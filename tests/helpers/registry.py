"""A real distribution registry (Debian's docker-registry 2.8, the software inside registry:2) for tests.

Started on 127.0.0.1 at a free port with htpasswd authentication and deletion enabled, over plain
HTTP or over HTTPS with a test CA made here (the engine trusts it through /etc/docker/certs.d for the
registry's lifetime). The htpasswd file is written by `darse registry user add`, as a user would.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REGISTRY_BINARY = "/usr/bin/docker-registry"
CERTS_D = Path("/etc/docker/certs.d")


@dataclass
class RunningRegistry:
    host: str
    scheme: str
    root: Path
    htpasswd: Path
    log: Path
    ca: Path | None
    users: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def user(self) -> str:
        return next(iter(self.users))

    @property
    def password(self) -> str:
        return self.users[self.user]

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a darse subprocess that logs in as the first user."""
        env = dict(os.environ)
        env.update(DARSE_REGISTRY_USER=self.user, DARSE_REGISTRY_PASSWORD=self.password)
        if self.ca:
            env["DARSE_REGISTRY_CA"] = str(self.ca)
        env.update(extra)
        return env

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def darse(*args: str, env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path | None = None):
    """Run the real `darse` CLI in a subprocess; returns the CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "-m", "darse", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def make_ca_and_cert(folder: Path, ip: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for `ip` signed by it: (ca.crt, server.crt, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "darse test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.crt", folder / "server.crt", folder / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


def start_registry(folder: Path, scheme: str, users: dict[str, str], cost: int = 10) -> RunningRegistry:
    """Write the config and htpasswd (through `darse registry user add`), start, wait until it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    host = f"127.0.0.1:{port}"
    htpasswd = folder / "auth" / "htpasswd"
    for name, password in users.items():
        args = ["registry", "user", "add", name, "--htpasswd", str(htpasswd), "--password-stdin", "--cost", str(cost)]
        result = darse(*args, stdin=password + "\n")
        assert result.returncode == 0, result.stderr
    tls = ""
    ca = None
    if scheme == "https":
        ca, cert, key = make_ca_and_cert(folder)
        tls = f"  tls:\n    certificate: {cert}\n    key: {key}\n"
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: info\n  accesslog:\n    disabled: false\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {host}\n{tls}"
        f"auth:\n  htpasswd:\n    realm: darse-test\n    path: {htpasswd}\n",
        encoding="utf-8",
    )
    log = folder / "registry.log"
    handle = log.open("wb")
    process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    registry = RunningRegistry(host, scheme, folder, htpasswd, log, ca, dict(users), process)
    verify = ssl.create_default_context(cafile=str(ca)) if ca else True
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the registry exited: {registry.log_text()[-2000:]}", pytrace=False)
        try:
            if httpx.get(f"{scheme}://{host}/v2/", verify=verify, timeout=2).status_code == 401:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        pytest.fail("the registry did not answer in 20 s", pytrace=False)
    if ca:
        trust = CERTS_D / host
        trust.mkdir(parents=True, exist_ok=True)
        shutil.copy(ca, trust / "ca.crt")
    return registry


def stop_registry(registry: RunningRegistry) -> None:
    if registry.process and registry.process.poll() is None:
        registry.process.terminate()
        try:
            registry.process.wait(10)
        except subprocess.TimeoutExpired:
            registry.process.kill()
    if registry.ca:
        shutil.rmtree(CERTS_D / registry.host, ignore_errors=True)


def new_users() -> dict[str, str]:
    """Two users with random passwords (easy to grep for in captured output)."""
    return {"alice": "pw-" + secrets.token_urlsafe(18), "bob": "pw-" + secrets.token_urlsafe(18)}


@pytest.fixture(scope="module", params=["http", "https"])
def registry(request, tmp_path_factory) -> Iterator[RunningRegistry]:
    """A running registry, once over HTTP and once over HTTPS with a test CA."""
    running = start_registry(tmp_path_factory.mktemp(f"registry-{request.param}"), request.param, new_users())
    yield running
    stop_registry(running)
