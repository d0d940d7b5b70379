"""A real three-node Swarm for the tests: this machine's engine as the manager and two more engines,
each in a network namespace of its own, as workers; and the registry that carries images to all three.

    host (main engine, manager)  dsw-mgr 10.77.0.1/24 ──┐
    namespace dsw-w1 (engine worker-01)   eth0 10.77.0.2 ├── bridge br0 in namespace dsw-sw
    namespace dsw-w2 (engine worker-02)   eth0 10.77.0.3 ┘

The bridge lives in a namespace of its own because the host's bridged traffic goes through its FORWARD
chain, which Docker sets to DROP; the switch namespace has no firewall rules. Each worker engine runs
with `nsenter --net` (not `ip netns exec`, which remounts /sys and hides the devices cgroup) and
`unshare --uts` (its own hostname), its own config file, data root, exec root, socket and pid file,
`--iptables=false --bridge=none` so that it leaves the host's firewall alone.

Images reach every node through a real distribution registry on 10.77.0.1:5000 over TLS (a throwaway
certificate for that address, trusted through /etc/docker/certs.d/10.77.0.1:5000/ca.crt, a file every
engine of the machine reads at pull time): the main engine pushes there and all three pull from there,
as a real cluster does. The main dockerd's configuration is never changed and it is never restarted.

The main engine's Swarm is re-made to advertise 10.77.0.1 (the workers cannot reach 127.0.0.1) with a
1 s dispatcher heartbeat, so that a stopped worker is seen down within seconds. Start and teardown are
idempotent: leftovers of a failed or killed run (engines, registry, namespaces, links, nodes, folders)
are removed first, every process ended by the pid it recorded. A file lock serialises test sessions
that want the cluster. At the end the main engine leaves the Swarm: nothing refers to 10.77.0.1 then.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import pytest

from helpers.engine import REGISTRY_BINARY, ensure_busybox

STATE = Path("/run/darse-test-swarm")  # pid files, configs, logs, sockets, the registry's storage
LOCK = Path("/run/darse-test-swarm.lock")
SUBNET = "10.77.0"
MANAGER_ADDRESS = f"{SUBNET}.1"
REGISTRY = f"{MANAGER_ADDRESS}:5000"
CERTS_D = Path("/etc/docker/certs.d") / REGISTRY
HOST_LINK = "dsw-mgr"
SWITCH = "dsw-sw"
WORKERS = (("worker-01", "dsw-w1", f"{SUBNET}.2"), ("worker-02", "dsw-w2", f"{SUBNET}.3"))
HEARTBEAT = "1s"  # a lost worker is marked down within a few seconds
START_TIMEOUT = 60.0
LOCK_TIMEOUT = 900.0  # another test session holding the cluster: wait for it this long at most


def _run(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed: {proc.stderr.strip()[-500:]}", pytrace=False)
    return proc


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}", pytrace=False)
        time.sleep(0.1)


@dataclass
class Worker:
    """One worker engine: its hostname, namespace, address and the files it owns."""

    hostname: str
    netns: str
    address: str
    process: subprocess.Popen | None = field(default=None, repr=False)
    _client: docker.DockerClient | None = field(default=None, repr=False)

    @property
    def folder(self) -> Path:
        return STATE / self.netns

    @property
    def socket(self) -> str:
        return f"unix://{self.folder / 'docker.sock'}"

    @property
    def pidfile(self) -> Path:
        return self.folder / "dockerd.pid"

    @property
    def data_root(self) -> Path:
        return Path("/var/lib") / f"darse-test-{self.netns}"

    @property
    def exec_root(self) -> Path:
        return self.folder / "exec"

    @property
    def log(self) -> str:
        return (self.folder / "dockerd.log").read_text(errors="replace")

    def client(self) -> docker.DockerClient:
        """A client on this engine, kept until the engine stops."""
        if self._client is None:
            self._client = docker.DockerClient(base_url=self.socket, timeout=60)
        return self._client

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except Exception:
            return False

    def start(self) -> None:
        """Start the engine in its namespace (its Swarm membership, kept in its data root, comes back)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "daemon.json"
        config.write_text("{}\n")  # its own, or it would read the main engine's /etc/docker/daemon.json
        script = (
            f"hostname {self.hostname}; exec dockerd --config-file {config} --data-root {self.data_root}"
            f" --exec-root {self.exec_root} -H {self.socket} --pidfile {self.pidfile}"
            " --iptables=false --bridge=none --shutdown-timeout 2"
        )
        log = (self.folder / "dockerd.log").open("ab")
        self.process = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.netns}", "unshare", "--uts", "sh", "-c", script],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the test run does not reach it; teardown stops it
        )
        log.close()

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"dockerd of {self.hostname} exited: {self.log[-1500:]}", pytrace=False)
            return self.answers()

        _wait(ready, START_TIMEOUT, f"the engine of {self.hostname}")

    def stop(self) -> None:
        """Stop the engine (SIGTERM, its containers stopped within --shutdown-timeout): the node is lost."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.process is not None:
            _end(self.process.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            self.process = None
        _end_recorded(self.pidfile, "dockerd")


@dataclass
class Cluster:
    """The running three-node Swarm (see the module's docstring)."""

    manager: docker.DockerClient
    workers: list[Worker]
    registry: str = REGISTRY
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def manager_hostname(self) -> str:
        return str(self.manager.info()["Name"])

    @property
    def hostnames(self) -> list[str]:
        return [self.manager_hostname, *(w.hostname for w in self.workers)]

    def worker(self, hostname: str) -> Worker:
        return next(w for w in self.workers if w.hostname == hostname)

    def engines(self) -> dict[str, docker.DockerClient]:
        """A client per node that answers, by hostname."""
        found = {self.manager_hostname: self.manager}
        found.update({w.hostname: w.client() for w in self.workers if w.answers()})
        return found

    def push(self, tag: str, repository: str) -> str:
        """Tag the main engine's image `tag` as REGISTRY/`repository` and push it; the reference."""
        name, _, version = repository.partition(":")
        reference = f"{self.registry}/{name}:{version or 'latest'}"
        self.manager.images.get(tag).tag(reference)
        for line in self.manager.images.push(
            f"{self.registry}/{name}", tag=version or "latest", stream=True, decode=True
        ):
            assert "error" not in line, line
        return reference

    def busybox(self, repository: str) -> str:
        """The busybox base image in the registry under `repository` (NAME:TAG), for tasks on any node."""
        ensure_busybox(self.manager)
        return self.push("darse-test/busybox:base", repository)

    def node_states(self) -> dict[str, str]:
        """Hostname -> the Swarm's state of the node (ready, down, ...)."""
        return {n["Description"]["Hostname"]: n["Status"]["State"] for n in self.manager.api.nodes()}

    def stop_worker(self, hostname: str) -> None:
        """Stop a worker's engine and wait until the Swarm sees its node down."""
        self.worker(hostname).stop()
        _wait(lambda: self.node_states().get(hostname) == "down", START_TIMEOUT, f"{hostname} seen down")

    def start_worker(self, hostname: str) -> None:
        """Start a stopped worker's engine again and wait until its node is ready."""
        worker = self.worker(hostname)
        if not worker.answers():
            worker.start()
            worker.wait_ready()
        _wait(lambda: self.node_states().get(hostname) == "ready", START_TIMEOUT, f"{hostname} ready again")

    def task_containers(self, service: str) -> list[tuple[str, docker.models.containers.Container]]:
        """(hostname, container) of every running container of a Swarm service, whatever its node."""
        found = []
        for hostname, client in self.engines().items():
            containers = client.containers.list(filters={"label": f"com.docker.swarm.service.name={service}"})
            found += [(hostname, c) for c in containers]
        return found


# --- ending what an earlier run left ----------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] not in ("Z", "X")


def _end(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds; returns once the process is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid) and time.monotonic() < deadline + 10:
            time.sleep(0.05)


def _end_recorded(pidfile: Path, program: str) -> None:
    """End the process a pid file names if it is still that program (a pid may have been reused)."""
    _end_all([(pidfile, program)])


def _end_all(recorded: list[tuple[Path, str]]) -> None:
    """`_end_recorded` for several at once: all signalled first, so their shutdowns overlap."""
    pids = []
    for pidfile, program in recorded:
        try:
            pid = int(pidfile.read_text().strip())
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except (OSError, ValueError):
            command = ""
        if command and Path(command).name == program:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            pids.append(pid)
        pidfile.unlink(missing_ok=True)
    for pid in pids:
        _end(pid)


def _unmount_under(*roots: Path) -> None:
    """Mounts a killed engine left under its folders (deepest first), so that they can be removed."""
    prefixes = tuple(str(r) + "/" for r in roots)
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(prefixes)), key=len, reverse=True):
        _run("umount", "-l", mount, check=False)


def _clear(manager: docker.DockerClient, leave: bool) -> None:
    """Remove every trace of a cluster: worker engines, registry, nodes, namespaces, links, folders."""
    workers = [Worker(*spec) for spec in WORKERS]
    _end_all([(w.pidfile, "dockerd") for w in workers] + [(STATE / "registry.pid", REGISTRY_BINARY.name)])
    swarm = manager.info().get("Swarm") or {}
    if swarm.get("ControlAvailable"):
        for node in manager.api.nodes():
            if node["Description"]["Hostname"] in {w.hostname for w in workers} or node["Status"]["State"] == "down":
                with contextlib.suppress(docker.errors.APIError):
                    manager.api.remove_node(node["ID"], force=True)
    if leave and swarm.get("LocalNodeState") not in ("inactive", None):
        manager.swarm.leave(force=True)
    for worker in workers:
        _unmount_under(worker.data_root, worker.exec_root)
    namespaces = _run("ip", "netns", "list").stdout.split()
    for name in [*(w.netns for w in workers), SWITCH]:
        if name in namespaces:
            _run("ip", "netns", "delete", name)
    if _run("ip", "link", "show", "dev", HOST_LINK, check=False).returncode == 0:
        _run("ip", "link", "delete", "dev", HOST_LINK, check=False)  # gone with its peer's namespace, or now
    for worker in workers:
        shutil.rmtree(worker.data_root, ignore_errors=True)
    shutil.rmtree(STATE, ignore_errors=True)
    shutil.rmtree(CERTS_D, ignore_errors=True)
    with contextlib.suppress(OSError):
        CERTS_D.parent.rmdir()  # /etc/docker/certs.d, when nothing else is in it


# --- building the cluster -----------------------------------------------------------------------------------


def _network() -> None:
    """The switch namespace with its bridge, the host's link on it, and one namespace per worker."""
    _run("ip", "netns", "add", SWITCH)
    _run("ip", "-n", SWITCH, "link", "add", "br0", "type", "bridge")
    _run("ip", "-n", SWITCH, "link", "set", "br0", "up")
    _run("ip", "link", "add", HOST_LINK, "type", "veth", "peer", "name", "p0", "netns", SWITCH)
    _run("ip", "-n", SWITCH, "link", "set", "p0", "master", "br0", "up")
    _run("ip", "addr", "add", f"{MANAGER_ADDRESS}/24", "dev", HOST_LINK)
    _run("ip", "link", "set", HOST_LINK, "up")
    for index, (_hostname, netns, address) in enumerate(WORKERS, start=1):
        _run("ip", "netns", "add", netns)
        _run("ip", "-n", SWITCH, "link", "add", f"p{index}", "type", "veth", "peer", "name", "eth0", "netns", netns)
        _run("ip", "-n", SWITCH, "link", "set", f"p{index}", "master", "br0", "up")
        _run("ip", "-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
        _run("ip", "-n", netns, "link", "set", "eth0", "up")
        _run("ip", "-n", netns, "link", "set", "lo", "up")


def _manager(manager: docker.DockerClient) -> str:
    """The main engine as the Swarm's manager on 10.77.0.1 (re-made when it advertises anything else);
    the workers' join token."""
    swarm = manager.info().get("Swarm") or {}
    if swarm.get("LocalNodeState") != "inactive" and (
        swarm.get("NodeAddr") != MANAGER_ADDRESS or not swarm.get("ControlAvailable")
    ):
        manager.swarm.leave(force=True)
        swarm = {}
    # the CLI, not docker-py: its update sends a whole spec, zeroing what it does not name (task history)
    if swarm.get("LocalNodeState") != "active":
        _run("docker", "swarm", "init", "--advertise-addr", MANAGER_ADDRESS, "--listen-addr", f"{MANAGER_ADDRESS}:2377")
    _run("docker", "swarm", "update", "--dispatcher-heartbeat", HEARTBEAT, "--task-history-limit", "5")
    return _run("docker", "swarm", "join-token", "-q", "worker").stdout.strip()


def _certificate() -> None:
    """A self-signed certificate for 10.77.0.1, the registry's, trusted by every engine of the machine."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "darse test registry")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(MANAGER_ADDRESS))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    (STATE / "registry.crt").write_bytes(pem)
    (STATE / "registry.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    CERTS_D.mkdir(parents=True, exist_ok=True)
    (CERTS_D / "ca.crt").write_bytes(pem)


def _registry() -> None:
    if not REGISTRY_BINARY.is_file():
        pytest.fail(f"{REGISTRY_BINARY} is missing; `bash .ci/run` installs docker-registry", pytrace=False)
    _certificate()
    config = STATE / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {STATE / 'registry'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {REGISTRY}\n"
        f"  tls:\n    certificate: {STATE / 'registry.crt'}\n    key: {STATE / 'registry.key'}\n"
    )
    log = (STATE / "registry.log").open("ab")
    process = subprocess.Popen(
        [str(REGISTRY_BINARY), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    (STATE / "registry.pid").write_text(f"{process.pid}\n")

    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"the registry exited: {(STATE / 'registry.log').read_text()[-800:]}", pytrace=False)
        import socket

        with contextlib.suppress(OSError), socket.create_connection((MANAGER_ADDRESS, 5000), timeout=1):
            return True
        return False

    _wait(answers, START_TIMEOUT, "the registry")


@contextlib.contextmanager
def _session_lock() -> Iterator[None]:
    """One test session at a time builds and uses the cluster (the main engine's Swarm is one)."""
    with LOCK.open("a") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test session holds the Swarm cluster ({LOCK})", pytrace=False)
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def start_cluster(manager: docker.DockerClient) -> Iterator[Cluster]:
    """Build the cluster (after removing any leftover); take it all down again on exit, also after a failure."""
    for tool in ("ip", "nsenter", "unshare", "dockerd"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing; `bash .ci/run` installs iproute2, util-linux and docker.io", pytrace=False)
    with _session_lock():
        started = time.monotonic()
        _clear(manager, leave=False)
        try:
            STATE.mkdir(parents=True)
            _network()
            workers = [Worker(*spec) for spec in WORKERS]
            for worker in workers:  # both engines start at once
                worker.start()
            token = _manager(manager)
            _registry()
            for worker in workers:
                worker.wait_ready()
                worker.client().swarm.join(
                    remote_addrs=[f"{MANAGER_ADDRESS}:2377"],
                    join_token=token,
                    listen_addr=f"{worker.address}:2377",
                    advertise_addr=worker.address,
                )
            cluster = Cluster(manager, workers)
            _wait(lambda: sorted(cluster.node_states().values()) == ["ready"] * 3, START_TIMEOUT, "three ready nodes")
            cluster.timings["start"] = time.monotonic() - started
            yield cluster
        finally:
            for worker in locals().get("workers", []):
                if worker._client is not None:
                    worker._client.close()
            _clear(manager, leave=True)  # the engines are ended by their pid files, all at once


@pytest.fixture(scope="session")
def swarm_cluster(engine: docker.DockerClient) -> Iterator[Cluster]:
    """The three-node Swarm for the whole session (see the module's docstring)."""
    with start_cluster(engine) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def swarm(swarm_cluster: Cluster) -> docker.DockerClient:
    """The cluster's manager (the main test engine), for tests that drive the Swarm through it."""
    return swarm_cluster.manager


def wait_until(predicate, timeout: float) -> bool:
    """Ask `predicate` every half second until it holds or `timeout` s passed; its last answer (tests
    assert it: how fast the Swarm gets there is not what they check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def darse_program(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m darse ARGS` in the repository `root` as an admin runs it (its state folder beside it)."""
    import sys

    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "250", "DARSE_STATE_DIR": str(root.parent / "state")}
    return subprocess.run(
        [sys.executable, "-m", "darse", *args], cwd=root, capture_output=True, text=True, env=env, check=False,
        timeout=600,
    )  # fmt: skip
