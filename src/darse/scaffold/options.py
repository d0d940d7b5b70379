"""`darse new` options, validated before anything is written: every value ends up inside YAML or a
Dockerfile, so each is held to a strict shape rather than escaped."""

from __future__ import annotations

import re
from dataclasses import dataclass

from darse.config import RepoConfig
from darse.errors import DarseError
from darse.lint.knowledge import database_data_dirs
from darse.model.changelog import latest_version_in
from darse.model.image import ImageRef, TagKind, parse_image
from darse.scaffold.databases import DATABASES, Database

DEFAULT_CERT_RESOLVER = "letsencrypt"  # the name the scaffolded web routers use too
CERTS_DIR = "/certs"  # where a scaffolded consumer finds its certificate files
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]*")
_TAG_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}")  # what an image tag may hold
_NETWORK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HOST = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


@dataclass(frozen=True)
class NewOptions:
    name: str
    image: str  # as given
    ref: ImageRef
    web_port: int | None
    host: str | None
    database: Database | None
    dockerfile: bool
    version: str | None  # the home-made image's first version (with --dockerfile): CHANGELOG and tag
    proxy_network: str
    registry: str
    data_dirs: tuple[str, ...] = ()  # the image's own data directories, when darse knows them (a database)
    app_version: str | None = None  # with --app-version: the release the Dockerfile downloads
    tls_domains: tuple[str, ...] = ()  # with --tls-domain: certificates `darse certs` hands to the service
    cert_resolver: str = DEFAULT_CERT_RESOLVER  # Traefik's certificate resolver (darse.toml [certs] resolver)

    @property
    def certs_volume(self) -> str:
        return f"{self.name}-certs"

    @property
    def db_name(self) -> str:
        return f"{self.name}-db"

    @property
    def deployed_image(self) -> str:
        """What compose.yaml runs: the upstream image, or the home-made one tagged with the CHANGELOG version."""
        if not self.dockerfile:
            return self.image
        prefix = f"{self.registry}/" if self.registry else ""
        return f"{prefix}{self.name}:{self.version}"

    @property
    def version_arg(self) -> str:
        arg = re.sub(r"[^A-Z0-9]", "_", self.name.upper())
        return ("APP_" if arg[0].isdigit() else "") + arg + "_VERSION"

    @property
    def downloads_app(self) -> bool:
        """A home-made image of software the Dockerfile fetches, on a base image (not an extended one)."""
        return self.app_version is not None

    @property
    def base_repository(self) -> str:
        """The image as given, without its tag or digest: what the Dockerfile's FROM names."""
        text = self.image.split("@", 1)[0]
        return text[: text.rfind(":")] if self.ref.tag else text


def validate(
    name: str,
    image: str,
    web: int | None,
    host: str | None,
    db: str | None,
    dockerfile: bool,
    config: RepoConfig,
    app_version: str | None = None,
    tls_domains: tuple[str, ...] | list[str] = (),
) -> NewOptions:
    if not _NAME.fullmatch(name):
        raise DarseError(
            f"{name!r} is not a valid service name",
            "use lowercase letters, digits, - and _, starting with a letter or digit (Compose project names)",
        )
    if not _IMAGE.fullmatch(image):
        raise DarseError(f"{image!r} is not an image reference", "write it as NAME:TAG, e.g. requarks/wiki:2.5")
    ref = parse_image(image)
    if ref.tag_kind in (TagKind.LATEST, TagKind.CHANNEL, TagKind.MAJOR):
        what = "no pinned tag" if ref.tag_kind is TagKind.LATEST else f"a moving tag ({ref.tag})"
        raise DarseError(
            f"image {image} has {what}", "give a major.minor or fuller version, e.g. requarks/wiki:2.5, never latest"
        )
    if web is not None and not 1 <= web <= 65535:
        raise DarseError(f"--web {web} is not a port number", "give the port the container listens on, 1-65535")
    if host is not None and web is None:
        raise DarseError("--host needs --web", "--web PORT publishes the service through Traefik at --host")
    if web is not None and host is None:
        if not config.domain:
            raise DarseError("--web needs --host: darse.toml sets no domain", "give --host NAME.example.org")
        host = f"{name}.{config.domain}"
    if host is not None and not _HOST.fullmatch(host):
        raise DarseError(f"--host {host!r} is not a host name", "give a name such as wiki.example.org")
    database = None
    if db is not None:
        database = DATABASES.get(db)
        if database is None:
            raise DarseError(f"unknown database {db!r}", f"use one of {', '.join(DATABASES)}")
    if not _NETWORK.fullmatch(config.proxy_network):
        raise DarseError(f"darse.toml: proxy_network {config.proxy_network!r} is not a network name", "fix darse.toml")
    if config.registry and not _IMAGE.fullmatch(config.registry):
        raise DarseError(f"darse.toml: registry {config.registry!r} is not a registry address", "fix darse.toml")
    data_dirs = tuple(database_data_dirs(ref.name) or ())
    if data_dirs and web is not None:
        raise DarseError(
            f"{image} is a database image: it is never published through Traefik",
            "drop --web; use --db to give an application its database",
        )
    version = None
    if app_version is not None:
        version = _app_image_version(app_version, dockerfile)
    elif dockerfile:
        if not ref.tag or ref.tag == "latest":
            raise DarseError(f"--dockerfile needs a version tag in {image}", "give NAME:VERSION, e.g. nginx:1.27")
        found = latest_version_in(f"## {ref.tag}")
        if found is None or found.version != ref.tag.lstrip("vV"):
            raise DarseError(
                f"--dockerfile needs a full version tag, and {ref.tag} is not one",
                "give a tag such as 16.4-alpine (not 16-alpine), or, for software the Dockerfile downloads "
                "onto this base, --app-version VERSION",
            )
        version = ref.tag
    return NewOptions(
        tls_domains=_tls_domains(tls_domains),
        cert_resolver=config.certs.resolver or DEFAULT_CERT_RESOLVER,
        name=name,
        image=image,
        ref=ref,
        web_port=web,
        host=host,
        database=database,
        dockerfile=dockerfile,
        version=version,
        app_version=app_version,
        proxy_network=config.proxy_network,
        registry=config.registry,
        data_dirs=data_dirs,
    )


def _tls_domains(domains: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """--tls-domain values as certificates hold them; a wildcard needs Traefik's DNS challenge, which
    the labels alone cannot ask for, so it is written by hand (docs/certs.md)."""
    from darse.certs.names import normalize_domain

    out: list[str] = []
    for domain in domains:
        if domain.strip().startswith("*"):
            raise DarseError(
                f"--tls-domain {domain!r} is a wildcard",
                "a wildcard certificate needs Traefik's DNS challenge: write its tls.domains labels by hand "
                "(docs/certs.md), or give each name",
            )
        try:
            normal = normalize_domain(domain, wildcard=False)
        except ValueError as exc:
            raise DarseError(
                f"--tls-domain {domain[:80]!r} is not a domain: {exc}", "give a name such as ldap.example.org"
            ) from None
        if normal not in out:
            out.append(normal)
    return tuple(out)


def _app_image_version(app_version: str, dockerfile: bool) -> str:
    """The first version of an image built around a downloaded release: the release plus a build
    number (`2.0.3` → `2.0.3-1`), so a change to the Dockerfile alone becomes `2.0.3-2`."""
    if not dockerfile:
        raise DarseError("--app-version needs --dockerfile", "add --dockerfile: the Dockerfile downloads that release")
    found = latest_version_in(f"## {app_version}-1") if _TAG_TEXT.fullmatch(app_version) else None
    if found is None or found.version != f"{app_version.lstrip('vV')}-1":
        raise DarseError(
            f"--app-version {app_version!r} is not a full version",
            "give the release the Dockerfile downloads, such as 2.0.3 or v1.4 (the CHANGELOG and the tag carry it)",
        )
    return found.version
