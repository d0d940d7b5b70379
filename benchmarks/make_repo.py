"""Generate a realistic services repository of N services for benchmarking `darse lint`.

Each service folder holds what the services guide expects: a `compose.yaml` (a web application
behind Traefik v2 on the external `docker_default` network, sometimes with a PostgreSQL or MariaDB
database on a network of its own with a named volume, and sometimes a Redis cache), a `Dockerfile`
of 15-40 lines (pinned `ARG ..._VERSION`, Alpine or Debian slim base, multi-line `RUN` with apk or
apt-get, a download of a URL built from the ARG, COPY, USER, ENTRYPOINT), `README.md`,
`CHANGELOG.md` whose newest version is the Compose image tag, and `secrets/*.secrets.example` for
every `env_file`. About 10% of the services carry deliberate problems, so that the linters have
findings to report.

The output is deterministic for a given seed. The repository gets a `.gitignore` (`*.secrets`), a
`darse.toml` and one Git commit.

    python benchmarks/make_repo.py /tmp/services            # 500 services
    python benchmarks/make_repo.py /tmp/small -n 20 --seed 3

Only the standard library is used.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REGISTRY = "registry.example.org"
DOMAIN = "example.org"
PROXY_NETWORK = "docker_default"

KINDS = [
    ("wiki", "A wiki for the team's documentation"),
    ("pad", "A collaborative text editor"),
    ("forum", "A discussion forum"),
    ("chat", "A team chat server"),
    ("gallery", "A photo gallery"),
    ("tracker", "An issue tracker"),
    ("notes", "A note-taking application"),
    ("kanban", "A kanban board"),
    ("calendar", "A shared calendar (CalDAV)"),
    ("bookmarks", "A bookmark manager"),
    ("feeds", "An RSS feed reader"),
    ("status", "A public status page"),
    ("dashboard", "A metrics dashboard"),
    ("paste", "A pastebin"),
    ("shortener", "A URL shortener"),
    ("survey", "A survey and form builder"),
    ("booking", "A room booking system"),
    ("inventory", "An inventory of the lab's hardware"),
    ("helpdesk", "A helpdesk ticketing system"),
    ("crm", "A small CRM"),
    ("docs", "A documentation site generator and server"),
    ("search", "A search engine over the intranet"),
    ("analytics", "A privacy-friendly web analytics service"),
    ("git", "A self-hosted Git forge"),
    ("monitor", "An uptime monitor"),
    ("budget", "A budgeting application"),
    ("recipes", "A recipe manager"),
    ("library", "A library catalogue"),
    ("radio", "A web radio streamer"),
    ("podcast", "A podcast publisher"),
    ("maps", "A map tile server"),
    ("files", "A file sharing service"),
    ("invoices", "An invoicing application"),
    ("timesheet", "A timesheet application"),
    ("webmail", "A webmail client"),
    ("polls", "A scheduling poll service (like Framadate)"),
    ("lms", "A learning management system"),
    ("jobs", "A job board"),
]
ORGS = ["acme", "libre-apps", "selfhosted", "opentools", "fediverse", "smallweb", "homelab", "civic-tech"]
ALPINE_TAGS = ["3.22", "3.23"]  # supported on 2026-11-22 (darse/data/eol.toml)
DEBIAN_TAGS = ["bookworm-slim", "trixie-slim", "12-slim", "13-slim"]
EOL_TAGS = [("alpine", "3.19"), ("alpine", "3.21"), ("debian", "buster-slim"), ("debian", "bullseye-slim")]
APK_PACKAGES = [
    "tzdata",
    "libstdc++",
    "sqlite-libs",
    "libpq",
    "mariadb-connector-c",
    "libxml2",
    "icu-libs",
    "libgcc",
    "openssl",
    "su-exec",
    "tini",
    "imagemagick",
    "ffmpeg",
    "git",
    "gettext",
]
APT_PACKAGES = [
    "tzdata",
    "libsqlite3-0",
    "libpq5",
    "libmariadb3",
    "libxml2",
    "libicu72",
    "libssl3",
    "gosu",
    "tini",
    "imagemagick",
    "ffmpeg",
    "git",
    "gettext-base",
    "locales",
    "fonts-dejavu-core",
]
PORTS = [3000, 4000, 5000, 5230, 8000, 8080, 8081, 8088, 8090, 9000, 9001, 9090]

# The deliberate problems: name -> what it breaks (a darse rule, often hadolint's or dclint's too).
PROBLEMS = {
    # compose.yaml
    "restart-always": "DC004",
    "no-init": "DC005",
    "host-ports": "DC006",
    "no-proxy-network": "DC007",
    "proxy-not-external": "DC008",
    "traefik-incomplete": "DC009",
    "db-on-proxy": "DC010",
    "volume-external": "DC011",
    "db-bind-mount": "DC012",
    "bind-missing": "DC013",
    "secret-env": "DC014",
    "latest-tag": "DC015",
    "version-key": "DC003",
    # Dockerfile
    "from-latest": "DF001",
    "eol-base": "DF003",
    "git-clone": "DF004",
    "moving-url": "DF005",
    "hardcoded-url": "DF006",
    "env-debian-frontend": "DF007",
    "user-root": "DF008",
    "no-user": "DF009",
    "apt-recommends": "DF010",
    "apt-lists": "DF011",
    "add-local": "DF012",
    "secret-arg": "DF013",
    # repository layout
    "no-readme": "RP001",
    "changelog-mismatch": "RP003",
    "no-example": "RP004",
    "secret-tracked": "RP006",
}
_NEEDS_DEBIAN = {"apt-recommends", "apt-lists", "env-debian-frontend"}
_NEEDS_DB = {"db-on-proxy", "db-bind-mount"}


@dataclass
class Spec:
    """Everything that makes one service different from the next."""

    name: str
    kind: str
    description: str
    org: str
    version: str
    history: list[str]
    port: int
    distro: str  # alpine | debian
    base_tag: str
    multistage: bool
    packages: list[str]
    db: str | None  # postgres | mariadb | None
    redis: bool
    data_volume: bool
    config_mount: bool
    shell_entrypoint: bool
    list_labels: bool
    url_style: int
    extra_env: dict[str, str]
    oci_labels: bool
    comments: bool
    problems: set[str] = field(default_factory=set)

    @property
    def var(self) -> str:
        return self.name.upper().replace("-", "_") + "_VERSION"

    @property
    def image(self) -> str:
        return f"{REGISTRY}/{self.name}:{self.version}"

    @property
    def db_name(self) -> str:
        return f"{self.name}-db"


@dataclass
class RepoStats:
    root: Path
    services: int
    dockerfiles: list[str]
    compose_files: list[str]
    faulty: int
    problems: Counter


def _version(rng: random.Random) -> str:
    return f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"


def _history(rng: random.Random, newest: str) -> list[str]:
    """Older versions below `newest`, newest first."""
    major, minor, patch = (int(p) for p in newest.split("."))
    out = [newest]
    for _ in range(rng.randint(1, 5)):
        if patch > 0 and rng.random() < 0.6:
            patch -= 1
        elif minor > 0:
            minor, patch = minor - 1, rng.randint(0, 9)
        elif major > 0:
            major, minor, patch = major - 1, rng.randint(0, 20), rng.randint(0, 9)
        else:
            break
        out.append(f"{major}.{minor}.{patch}")
    return out


def make_spec(rng: random.Random, index: int, problems: set[str]) -> Spec:
    kind, description = KINDS[index % len(KINDS)]
    name = f"{kind}-{index:03d}"
    distro = "alpine" if rng.random() < 0.55 else "debian"
    db = rng.choice([None, None, "postgres", "postgres", "mariadb"])
    if problems & _NEEDS_DEBIAN:
        distro = "debian"
    if problems & _NEEDS_DB and db is None:
        db = "postgres"
    pool = APK_PACKAGES if distro == "alpine" else APT_PACKAGES
    version = _version(rng)
    extra_env = {"TZ": rng.choice(["Europe/Paris", "UTC", "Europe/Berlin", "America/Montreal"])}
    if rng.random() < 0.5:
        extra_env["LOG_LEVEL"] = rng.choice(["info", "warn", "debug"])
    if rng.random() < 0.3:
        extra_env["MAX_UPLOAD_SIZE"] = f"{rng.choice([10, 50, 100, 512])}M"
    return Spec(
        name=name,
        kind=kind,
        description=description,
        org=rng.choice(ORGS),
        version=version,
        history=_history(rng, version),
        port=rng.choice(PORTS),
        distro=distro,
        base_tag=rng.choice(ALPINE_TAGS if distro == "alpine" else DEBIAN_TAGS),
        multistage=rng.random() < 0.3,
        packages=rng.sample(pool, rng.randint(1, 6)),
        db=db,
        redis=rng.random() < 0.15,
        data_volume=rng.random() < 0.6,
        config_mount=rng.random() < 0.35,
        shell_entrypoint=rng.random() < 0.3,
        list_labels=rng.random() < 0.25,
        url_style=rng.randrange(3),
        extra_env=extra_env,
        oci_labels=rng.random() < 0.5,
        comments=rng.random() < 0.6,
        problems=problems,
    )


# --- compose.yaml -----------------------------------------------------------------------------------


def _labels(spec: Spec) -> list[str]:
    n = spec.name
    pairs = [
        ("traefik.enable", "true"),
        (f"traefik.http.routers.{n}.rule", f"Host(`{n}.{DOMAIN}`)"),
        (f"traefik.http.routers.{n}.entrypoints", "websecure"),
        (f"traefik.http.routers.{n}.tls.certresolver", "letsencrypt"),
        (f"traefik.http.services.{n}.loadbalancer.server.port", str(spec.port)),
    ]
    if "traefik-incomplete" in spec.problems:
        pairs = [p for p in pairs if ".rule" not in p[0]]
    if spec.list_labels:
        return ["    labels:", *(f"      - {k}={v}" for k, v in pairs)]
    quoted = {"true", str(spec.port)}
    return ["    labels:", *(f'      {k}: "{v}"' if v in quoted else f"      {k}: {v}" for k, v in pairs)]


def render_compose(spec: Spec) -> str:
    n, p = spec.name, spec.problems
    lines = [f"# {spec.description}, published at https://{n}.{DOMAIN} through Traefik."]
    if spec.db:
        engine = "PostgreSQL" if spec.db == "postgres" else "MariaDB"
        lines.append(f"# Its {engine} database lives on a network of its own.")
    if "version-key" in p:
        lines.append('version: "3.8"')
    image = f"{REGISTRY}/{n}:latest" if "latest-tag" in p else spec.image
    lines += [
        "services:",
        f"  {n}:",
        "    # The tag is the newest version of CHANGELOG.md.",
        f"    image: {image}",
        f"    restart: {'always' if 'restart-always' in p else 'unless-stopped'}",
    ]
    if "no-init" not in p:
        lines.append("    init: true")
    lines += ["    env_file:", f"      - ./secrets/{n}.secrets"]
    if "no-example" in p:
        lines.append(f"      - ./secrets/{n}-mail.secrets")
    env = dict(spec.extra_env)
    env["APP_URL"] = f"https://{n}.{DOMAIN}"
    if spec.db:
        env["DB_HOST"] = spec.db_name
        env["DB_PORT"] = "5432" if spec.db == "postgres" else "3306"
    if spec.redis:
        env["REDIS_URL"] = f"redis://{n}-cache:6379/0"
    if "secret-env" in p:
        env["SMTP_PASSWORD"] = "Sup3r-s3cret-" + n
    lines.append("    environment:")
    lines += [f'      {k}: "{v}"' if v.isdigit() else f"      {k}: {v}" for k, v in env.items()]
    depends = [d for d, on in ((spec.db_name, spec.db), (f"{n}-cache", spec.redis)) if on]
    if depends:
        lines += ["    depends_on:", *(f"      - {d}" for d in depends)]
    volumes = []
    if spec.data_volume:
        volumes.append(f"      - {n}-data:/var/lib/{n}")
    if spec.config_mount:
        volumes.append(f"      - ./config.toml:/etc/{n}/config.toml:ro")
    if "bind-missing" in p:
        volumes.append(f"      - ./themes:/opt/{n}/themes:ro")
    if volumes:
        lines += ["    volumes:", *volumes]
    if "host-ports" in p:
        lines += ["    ports:", f'      - "{spec.port}:{spec.port}"']
    lines += _labels(spec)
    nets = [] if "no-proxy-network" in p else [PROXY_NETWORK]
    if spec.db or spec.redis:
        nets.append(f"{n}-backend")
    if nets:
        lines += ["    networks:", *(f"      - {net}" for net in nets)]

    if spec.db:
        lines += ["", f"  {spec.db_name}:"]
        if spec.db == "postgres":
            lines.append(f"    image: postgres:{random.Random(n).choice(['15-alpine', '16-alpine', '17-alpine'])}")
            data_dir = "/var/lib/postgresql/data"
        else:
            lines.append(f"    image: mariadb:{random.Random(n).choice(['10.11', '11.4', '11.8'])}")
            data_dir = "/var/lib/mysql"
        lines += ["    restart: unless-stopped", "    init: true"]
        lines += ["    env_file:", f"      - ./secrets/{spec.db_name}.secrets"]
        lines += ["    volumes:", "      # The database files persist across re-creations of the container."]
        if "db-bind-mount" in p:
            lines.append(f"      - ./data/db:{data_dir}")
        else:
            lines.append(f"      - {spec.db_name}:{data_dir}")
        lines += ["    networks:", f"      - {n}-backend"]
        if "db-on-proxy" in p:
            lines.append(f"      - {PROXY_NETWORK}")
    if spec.redis:
        lines += [
            "",
            f"  {n}-cache:",
            "    image: redis:7.4-alpine",
            "    restart: unless-stopped",
            "    init: true",
            '    command: ["redis-server", "--save", "60", "1"]',
            "    volumes:",
            f"      - {n}-cache:/data",
            "    networks:",
            f"      - {n}-backend",
        ]

    named = []
    if spec.data_volume:
        named.append((f"{n}-data", f"{n.replace('-', '_')}_data"))
    if spec.db and "db-bind-mount" not in p:
        named.append((spec.db_name, f"{spec.db_name.replace('-', '_')}"))
    if spec.redis:
        named.append((f"{n}-cache", f"{n.replace('-', '_')}_cache"))
    if named:
        lines += ["", "volumes:"]
        for index, (key, real) in enumerate(named):
            lines.append(f"  {key}:")
            if "volume-external" in p and index == 0:
                lines.append("    external: true")
            else:
                lines.append(f"    name: {real}")
    lines += ["", "networks:"]
    if "proxy-not-external" in p:
        lines += [f"  {PROXY_NETWORK}:", "    driver: bridge"]
    else:
        lines += [f"  {PROXY_NETWORK}:", "    external: true"]
    if spec.db or spec.redis:
        lines.append(f"  {n}-backend:")
    return "\n".join(lines) + "\n"


# --- Dockerfile -------------------------------------------------------------------------------------


def _url(spec: Spec) -> str:
    n, v, p = spec.name, "${" + spec.var + "}", spec.problems
    if "moving-url" in p:
        return f"https://github.com/{spec.org}/{n}/archive/refs/heads/main.tar.gz"
    if "hardcoded-url" in p:
        v = spec.version
    if spec.url_style == 0:
        return f"https://github.com/{spec.org}/{n}/releases/download/v{v}/{n}-{v}-linux-amd64.tar.gz"
    if spec.url_style == 1:
        return f"https://downloads.{spec.org}.org/{n}/{v}/{n}-{v}.tar.gz"
    return f"https://codeberg.org/{spec.org}/{n}/archive/v{v}.tar.gz"


def _fetch_steps(spec: Spec) -> list[list[str]]:
    """The commands that download and unpack the release into /opt/<name>."""
    n = spec.name
    if "git-clone" in spec.problems:
        return [[f"git clone https://github.com/{spec.org}/{n}.git /opt/{n}"]]
    folder = f"{n}-main" if "moving-url" in spec.problems else f"{n}-${{{spec.var}}}"
    return [
        [f'curl -fsSL "{_url(spec)}"', "       | tar -xz -C /opt"],
        [f'mv "/opt/{folder}" /opt/{n}'],
    ]


def _run(commands: list[list[str]]) -> list[str]:
    """One multi-line RUN: each command a list of physical lines, chained with `&&`."""
    lines = []
    for index, command in enumerate(commands):
        lines.append(("RUN " if index == 0 else "    && ") + command[0])
        lines += command[1:]
    return [line + " \\" for line in lines[:-1]] + lines[-1:]


def _install(spec: Spec, packages: list[str], fetch: bool) -> list[str]:
    """The RUN that installs the runtime packages (and, when `fetch`, downloads the release)."""
    p = spec.problems
    fetcher = "git" if "git-clone" in p else "curl"
    if spec.distro == "alpine":
        commands = [["apk add --no-cache", *(f"        {pk}" for pk in ["ca-certificates", *packages])]]
        if fetch:
            commands.append([f"apk add --no-cache --virtual .fetch {fetcher}"])
            commands += _fetch_steps(spec)
            commands.append(["apk del .fetch"])
        return _run(commands)
    prefix = "" if "env-debian-frontend" in p else "DEBIAN_FRONTEND=noninteractive "
    recommends = "" if "apt-recommends" in p else " --no-install-recommends"
    tools = f" {fetcher}" if fetch else ""
    commands = [
        ["apt-get update"],
        [f"{prefix}apt-get install -y{recommends} ca-certificates{tools}", *(f"       {pk}" for pk in packages)],
    ]
    if fetch:
        commands += _fetch_steps(spec)
        commands.append([f"apt-get purge -y --auto-remove {fetcher}"])
    if "apt-lists" not in p:
        commands.append(["rm -rf /var/lib/apt/lists/*"])
    return _run(commands)


def _base(spec: Spec) -> str:
    if "from-latest" in spec.problems:
        return "debian:latest" if spec.distro == "debian" else "alpine:latest"
    if "eol-base" in spec.problems:
        image, tag = random.Random(spec.name).choice([t for t in EOL_TAGS if t[0] == spec.distro])
        return f"{image}:{tag}"
    return f"{spec.distro}:{spec.base_tag}"


def _user_lines(spec: Spec) -> list[str]:
    n, p = spec.name, spec.problems
    user = spec.kind
    if spec.distro == "alpine":
        create = f"RUN addgroup -S {user} && adduser -S -G {user} -h /opt/{n} {user} \\"
    else:
        create = f"RUN useradd --system --home /opt/{n} --shell /usr/sbin/nologin {user} \\"
    lines = [create, f"    && mkdir -p /var/lib/{n} && chown -R {user} /opt/{n} /var/lib/{n}"]
    if "no-user" in p:
        return lines
    lines.append("USER root" if "user-root" in p else f"USER {user}")
    return lines


def render_dockerfile(spec: Spec) -> str:
    n, p = spec.name, spec.problems
    lines = []
    if spec.comments:
        lines += [f"# {spec.description}, built from a pinned release so that any commit rebuilds the same image."]
    base = _base(spec)
    if spec.multistage:
        if spec.comments:
            lines += ["", "# Download stage: the release archive, unpacked."]
        lines += [f"FROM {spec.distro}:{spec.base_tag} AS fetch", f"ARG {spec.var}={spec.version}"]
        lines += _install(spec, [], fetch=True)
        lines += ["", f"FROM {base}"]
    else:
        lines += [f"FROM {base}", "", f"ARG {spec.var}={spec.version}"]
    if "secret-arg" in p:
        lines.append(f"ARG {spec.kind.upper()}_API_TOKEN=ghp_{'x1Y2z3' * 6}")
    if "env-debian-frontend" in p:
        lines.append("ENV DEBIAN_FRONTEND=noninteractive")
    if spec.oci_labels:
        version = f"${{{spec.var}}}" if not spec.multistage else spec.version
        lines += [
            f'LABEL org.opencontainers.image.title="{n}" \\',
            f'      org.opencontainers.image.version="{version}" \\',
            f'      org.opencontainers.image.source="https://github.com/{spec.org}/{n}"',
        ]
    lines.append("")
    if spec.comments:
        lines.append("# Runtime dependencies only; the download tools go away in the same layer.")
    lines += _install(spec, spec.packages, fetch=not spec.multistage)
    if spec.multistage:
        lines.append(f"COPY --from=fetch /opt/{n} /opt/{n}")
    lines.append("")
    copy = "ADD" if "add-local" in p else "COPY"
    lines.append(f"{copy} config.toml /etc/{n}/config.toml")
    if spec.shell_entrypoint:
        lines.append("COPY entrypoint.sh /usr/local/bin/entrypoint.sh")
    lines += _user_lines(spec)
    lines += [f"WORKDIR /opt/{n}"]
    if spec.comments:
        lines += [f"ENV {n.upper().replace('-', '_')}_DATA=/var/lib/{n}", ""]
    lines.append(f"EXPOSE {spec.port}")
    if spec.shell_entrypoint:
        lines.append('ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]')
    else:
        lines.append(f'ENTRYPOINT ["/opt/{n}/bin/{spec.kind}"]')
        if spec.comments:
            lines.append(f'CMD ["serve", "--config", "/etc/{n}/config.toml"]')
    return "\n".join(lines) + "\n"


# --- the other files --------------------------------------------------------------------------------


def render_readme(spec: Spec) -> str:
    n = spec.name
    volumes = [f"`{n.replace('-', '_')}_data` (uploads and state)"] if spec.data_volume else []
    secrets = [f"`secrets/{n}.secrets`"]
    nets = [f"`{PROXY_NETWORK}` (Traefik)"]
    if spec.db:
        engine = "PostgreSQL" if spec.db == "postgres" else "MariaDB"
        volumes.append(f"`{spec.db_name.replace('-', '_')}`, the {engine} data directory")
        secrets.append(f"`secrets/{spec.db_name}.secrets`")
    if spec.db or spec.redis:
        nets.append(f"`{n}-backend` (the application and its {'database' if spec.db else 'cache'})")
    return (
        f"# {n}\n\n{spec.description}, published at `https://{n}.{DOMAIN}`.\n\n"
        f"- **Image**: `{REGISTRY}/{n}:<version>`, built by `darse build {n}` from the `Dockerfile`;\n"
        f"  the version is the newest entry of `CHANGELOG.md` and `{spec.var}` in the Dockerfile.\n"
        f"- **Networks**: {', '.join(nets)}.\n"
        f"- **Volumes**: {', '.join(volumes) or 'none; the service keeps no state'}.\n"
        f"- **Secrets**: {', '.join(secrets)}, made from their `.example` files by `darse secrets init {n}`.\n\n"
        f"Upgrade: bump `{spec.var}`, add a CHANGELOG entry, set the same tag in `compose.yaml`, then\n"
        f"`darse build {n} && darse push {n} && darse up {n}`.\n"
    )


def render_changelog(spec: Spec) -> str:
    history = list(spec.history)
    if "changelog-mismatch" in spec.problems:
        major, minor, patch = spec.version.split(".")
        history.insert(0, f"{major}.{minor}.{int(patch) + 1}")
    out = ["# Changelog", ""]
    for index, version in enumerate(history):
        out += [f"## {version}", ""]
        if index == len(history) - 1:
            out.append("- First version of the home-made image.")
        else:
            out.append(f"- Upgrade to the {version} release.")
            if index % 2 == 0:
                out.append("- Rebuild on the newest base image.")
        out.append("")
    return "\n".join(out)


def render_secrets_example(spec: Spec) -> dict[str, str]:
    n = spec.name
    app = [f"# Settings read by the {n} container. `darse secrets init {n}` writes {n}.secrets from this file."]
    app.append(f"SECRET_KEY=@generate:{n}-secret-key")
    out = {}
    if spec.db == "postgres":
        app += [f"DB_USER={spec.kind}", f"DB_NAME={spec.kind}", f"DB_PASSWORD=@generate:{spec.db_name}-password"]
        out[f"{spec.db_name}.secrets.example"] = (
            "# Settings read by the PostgreSQL container.\n"
            f"POSTGRES_USER={spec.kind}\nPOSTGRES_DB={spec.kind}\nPOSTGRES_PASSWORD=@generate:{spec.db_name}-password\n"
        )
    elif spec.db == "mariadb":
        app += [f"DB_USER={spec.kind}", f"DB_NAME={spec.kind}", f"DB_PASSWORD=@generate:{spec.db_name}-password"]
        out[f"{spec.db_name}.secrets.example"] = (
            "# Settings read by the MariaDB container.\n"
            f"MARIADB_USER={spec.kind}\nMARIADB_DATABASE={spec.kind}\n"
            f"MARIADB_PASSWORD=@generate:{spec.db_name}-password\nMARIADB_ROOT_PASSWORD=@generate:{spec.db_name}-root\n"
        )
    if "secret-env" not in spec.problems:
        app += ["SMTP_HOST=smtp.example.org", "SMTP_PASSWORD="]
    out[f"{n}.secrets.example"] = "\n".join(app) + "\n"
    return out


def render_config(spec: Spec) -> str:
    return (
        f"# Settings of {spec.name}; secrets come from the environment (secrets/{spec.name}.secrets).\n"
        f'[server]\nlisten = "0.0.0.0:{spec.port}"\nbase_url = "https://{spec.name}.{DOMAIN}"\n\n'
        f'[storage]\npath = "/var/lib/{spec.name}"\n'
    )


def render_entrypoint(spec: Spec) -> str:
    return (
        "#!/bin/sh\n"
        "# Runs as PID 1's child thanks to `init: true` in compose.yaml.\n"
        "set -eu\n"
        f'exec /opt/{spec.name}/bin/{spec.kind} serve --config /etc/{spec.name}/config.toml "$@"\n'
    )


def write_service(root: Path, spec: Spec) -> list[Path]:
    """Write the service folder; return the files to force into Git despite .gitignore."""
    folder = root / spec.name
    (folder / "secrets").mkdir(parents=True)
    (folder / "compose.yaml").write_text(render_compose(spec))
    (folder / "Dockerfile").write_text(render_dockerfile(spec))
    if "no-readme" not in spec.problems:
        (folder / "README.md").write_text(render_readme(spec))
    (folder / "CHANGELOG.md").write_text(render_changelog(spec))
    (folder / "config.toml").write_text(render_config(spec))
    if spec.shell_entrypoint:
        entrypoint = folder / "entrypoint.sh"
        entrypoint.write_text(render_entrypoint(spec))
        entrypoint.chmod(0o755)
    for name, text in render_secrets_example(spec).items():
        (folder / "secrets" / name).write_text(text)
    forced = []
    if "secret-tracked" in spec.problems:
        leaked = folder / "secrets" / f"{spec.name}.secrets"
        leaked.write_text(f"SECRET_KEY=9f2c1e0b7d\nSMTP_HOST=smtp.example.org\nSMTP_PASSWORD=hunter2-{spec.name}\n")
        forced.append(leaked)
    return forced


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@invalid", "-c", "commit.gpgsign=false", *args],
        cwd=root,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def make_repo(root: Path, services: int = 500, seed: int = 20261122, faulty_ratio: float = 0.1) -> RepoStats:
    """Generate the repository in `root` (which must not exist or be empty)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise SystemExit(f"{root} is not empty; give a new folder")
    rng = random.Random(seed)
    faulty = set(rng.sample(range(services), round(services * faulty_ratio)))
    names = sorted(PROBLEMS)
    counts: Counter = Counter()
    forced: list[Path] = []
    dockerfiles, composes = [], []
    for index in range(services):
        problems: set[str] = set()
        if index in faulty:
            problems = set(rng.sample(names, 1 if rng.random() < 0.7 else 2))
            counts.update(problems)
        spec = make_spec(rng, index, problems)
        forced += write_service(root, spec)
        dockerfiles.append(f"{spec.name}/Dockerfile")
        composes.append(f"{spec.name}/compose.yaml")
    (root / ".gitignore").write_text(
        "# Real secret files stay on the hosts; only their *.secrets.example counterparts are committed.\n*.secrets\n"
    )
    (root / "darse.toml").write_text(
        "# The repository's own choices.\n"
        f'proxy_network = "{PROXY_NETWORK}"\ndomain = "{DOMAIN}"\nregistry = "{REGISTRY}"\n\n'
        '[lint]\nfail_on = "error"\n'
    )
    (root / "README.md").write_text(
        f"# Services\n\n{services} services generated by darse's benchmarks/make_repo.py (seed {seed}),\n"
        "one folder per service. Deploy one with `darse up NAME`.\n"
    )
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    if forced:
        _git(root, "add", "-f", *(str(p.relative_to(root)) for p in forced))
    _git(root, "commit", "-q", "-m", f"{services} services")
    return RepoStats(root, services, dockerfiles, composes, len(faulty), counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="folder to create (must not exist or be empty)")
    parser.add_argument("-n", "--services", type=int, default=500, help="number of services (default 500)")
    parser.add_argument("--seed", type=int, default=20261122, help="random seed (default 20261122)")
    parser.add_argument("--faulty", type=float, default=0.1, help="share of services with problems (default 0.1)")
    args = parser.parse_args(argv)
    stats = make_repo(args.dest, args.services, args.seed, args.faulty)
    print(
        f"{stats.root}: {stats.services} services, {len(stats.dockerfiles)} Dockerfiles, "
        f"{len(stats.compose_files)} Compose files, {stats.faulty} with deliberate problems"
    )
    for problem, count in sorted(stats.problems.items()):
        print(f"  {count:3d} x {problem} ({PROBLEMS[problem]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
