"""The files of a new service, as text written the way a person would: ordered keys, a comment on each
choice the services guide makes (restart, init, Traefik, networks, volumes, secrets).

Templates rather than a YAML emitter: the comments are the point, and every value placed in them was
validated by `options.validate`, so nothing needs escaping.
"""

from __future__ import annotations

from darse.scaffold.options import CERTS_DIR, NewOptions

_SMALL_WORDS = ("alpine", "slim", "distroless", "busybox", "minimal", "micro", "chiseled")
_SECRETS_HELP = """\
# Only this example is committed: `darse secrets init {name}` writes the real file,
# {real}, on the host (mode 0600, ignored by Git).
# An empty value, changeme, <...> or @generate gets a random value; @generate:LABEL gives every
# key with the same LABEL, in any example of the service, the same one; any other value is a
# default, copied as written.
"""


def app_secrets_path(options: NewOptions) -> str:
    return f"secrets/{options.name}.secrets"


def db_secrets_path(options: NewOptions) -> str:
    return f"secrets/{options.db_name}.secrets"


def _fill(value: str, options: NewOptions) -> str:
    return value.format(name=options.name, db=options.db_name)


def _scalar(value: str) -> str:
    """Numbers quoted, so Compose reads the string it expects in `environment:`."""
    return f'"{value}"' if value.isdigit() else value


def compose_yaml(options: NewOptions) -> str:
    name, db = options.name, options.database
    proxy = options.proxy_network
    summary = f"# {name}: "
    summary += "built from this folder's Dockerfile" if options.dockerfile else f"the image {options.image}"
    if options.web_port is not None:
        summary += f", published by Traefik at https://{options.host}"
    if db is not None:
        summary += f",\n# with its {db.title} database on a network of its own"
    lines = [
        summary + ".",
        "# Made by `darse new`; README.md lists its settings, volumes and networks, and how to deploy it.",
        "services:",
        f"  {name}:",
    ]
    if options.dockerfile:
        lines.append(f"    # `darse build {name}` builds it; the tag is the newest version in CHANGELOG.md.")
    lines += [
        f"    image: {options.deployed_image}",
        "    # Back after a crash or a reboot, but stays down when stopped on purpose.",
        "    restart: unless-stopped",
        "    # A real init as PID 1 passes SIGTERM on to the application, so `docker stop` is clean.",
        "    init: true",
        f"    # Secret settings, on the host only: `darse secrets init {name}` makes this file from",
        f"    # {app_secrets_path(options)}.example, which is the one in Git.",
        "    env_file:",
        f"      - ./{app_secrets_path(options)}",
    ]
    if db is not None:
        lines.append("    # Where the database is; rename these to the variables the image reads.")
        lines.append("    environment:")
        lines += [f"      {key}: {_scalar(_fill(value, options))}" for key, value in db.app_environment]
        lines += ["    depends_on:", f"      {options.db_name}:", "        condition: service_healthy"]
    if options.web_port is not None:
        lines += [
            f"    # Published by Traefik, never on a host port: https://{options.host}",
            f"    # goes to port {options.web_port} of the container.",
            "    labels:",
            '      traefik.enable: "true"',
            f"      traefik.http.routers.{name}.rule: Host(`{options.host}`)",
            f"      traefik.http.routers.{name}.entrypoints: websecure",
            f"      traefik.http.routers.{name}.tls.certresolver: {options.cert_resolver}",
            f'      traefik.http.services.{name}.loadbalancer.server.port: "{options.web_port}"',
        ]
    if options.tls_domains:
        lines += _certs_labels(options)
    routed = options.web_port is not None or bool(options.tls_domains)
    networks = ([proxy] if routed else []) + ([options.db_name] if db is not None else [])
    if networks:
        lines.append("    networks:")
        lines += [f"      - {network}" for network in networks]
    app_volume = f"{name}-data"
    if options.data_dirs or options.tls_domains:
        lines.append("    volumes:")
    if options.tls_domains:
        lines += [
            "      # The certificate files `darse certs sync` writes (read-only here: only darse changes them).",
            f"      - {options.certs_volume}:{CERTS_DIR}:ro",
        ]
    if options.data_dirs:
        lines += ["      # The image's data directories persist across re-creations of the container."]
        lines += [f"      - {app_volume}:{directory}" for directory in options.data_dirs]
    elif options.tls_domains:
        lines.append(f"      # Directories that must outlive the container too, e.g. - {app_volume}:/path/of/the/data")
    else:
        lines += [
            "    # Directories that must outlive the container go on named volumes (declared below), e.g.:",
            "    # volumes:",
            f"    #   - {app_volume}:/path/of/the/data",
        ]
    if db is not None:
        lines += ["", *_database_service(options)]
    volumes = ([app_volume] if options.data_dirs else []) + ([options.db_name] if db is not None else [])
    volumes += [options.certs_volume] if options.tls_domains else []
    if volumes:
        lines += ["", "volumes:"]
        for volume in volumes:
            lines += [
                f"  {volume}:",
                "    # A fixed name: the data is found again whatever the Compose project is called.",
                f"    name: {volume.replace('-', '_')}",
            ]
    if networks:
        lines += ["", "networks:"]
        if routed:
            lines += [
                "  # Traefik's network, created once per host outside Compose.",
                f"  {proxy}:",
                "    external: true",
            ]
        if db is not None:
            lines += [f"  # Private to {name} and its database.", f"  {options.db_name}:"]
    return "\n".join(lines) + "\n"


def _certs_labels(options: NewOptions) -> list[str]:
    """The consumer's darse.certs labels, and the Traefik router that makes Traefik obtain the certificate
    (a router for the domains that answers by itself: no request reaches the service). docs/certs.md."""
    name, domains = options.name, options.tls_domains
    router = f"{name}-certs"
    rule = " || ".join(f"Host(`{domain}`)" for domain in domains)
    lines = [] if options.web_port is not None else ["    labels:"]
    lines += [
        f"      # TLS for {', '.join(domains)}: `darse certs` (docs/certs.md) writes the certificate",
        f"      # Traefik obtains into {CERTS_DIR} (cert.pem, key.pem, fullchain.pem), and restarts the service",
        "      # when it changes.",
        "      # Point the daemon at them; set darse.certs.owner (uid:gid) to the user it runs as.",
        f"      darse.certs.domains: {','.join(domains)}",
        f"      darse.certs.dir: {CERTS_DIR}",
        "      # Traefik requests a certificate only for a router's domains: this one exists for that alone.",
    ]
    if options.web_port is None:
        lines.append('      traefik.enable: "true"')
    lines += [
        f"      traefik.http.routers.{router}.rule: {rule}",
        f"      traefik.http.routers.{router}.entrypoints: websecure",
        f"      traefik.http.routers.{router}.tls.certresolver: {options.cert_resolver}",
        f"      traefik.http.routers.{router}.service: noop@internal",
    ]
    if options.web_port is None:
        lines += [
            "      # Traefik skips a container whose service has no port; nothing is ever sent to this one.",
            f'      traefik.http.services.{router}.loadbalancer.server.port: "9"',
        ]
    return lines


def _database_service(options: NewOptions) -> list[str]:
    db = options.database
    assert db is not None
    lines = [
        f"  {options.db_name}:",
        f"    image: {db.image}",
        "    restart: unless-stopped",
        "    init: true",
        f"    # User, database and password; the password is generated once and shared with {options.name}.",
        "    env_file:",
        f"      - ./{db_secrets_path(options)}",
    ]
    if db.command:
        lines += [f"    command: {db.command}"]
    lines += [
        "    # The database files persist across re-creations of the container.",
        "    volumes:",
        f"      - {options.db_name}:{db.data_dir}",
        f"    # {options.name} starts once the database answers.",
        "    healthcheck:",
        f"      test: {db.healthcheck}",
        "      interval: 10s",
        "      timeout: 5s",
        "      retries: 10",
        "    # Only on its own network: out of reach of the proxy and of other services.",
        "    networks:",
        f"      - {options.db_name}",
    ]
    return lines


def app_secrets_example(options: NewOptions) -> str:
    text = f"# Secret settings of {options.name}, read by its container through env_file.\n"
    text += _SECRETS_HELP.format(name=options.name, real=app_secrets_path(options))
    db = options.database
    if db is None:
        return (
            text
            + "\n# Add the application's secrets here, one KEY=value per line, for example:\n# SECRET_KEY=@generate\n"
        )
    text += f"\n# The {db.title} connection (rename the keys to those the image reads).\n"
    for key, value in db.app_secrets:
        if value.startswith("@generate:"):
            twin = next(k for k, v in db.secrets if v == value)
            text += f"# Generated once, equal to {twin} in {db_secrets_path(options)}.\n"
        text += f"{key}={_fill(value, options)}\n"
    return text


def db_secrets_example(options: NewOptions) -> str:
    db = options.database
    assert db is not None
    text = f"# Settings of the {db.title} container {options.db_name}, read through env_file.\n"
    text += _SECRETS_HELP.format(name=options.name, real=db_secrets_path(options)) + "\n"
    for key, value in db.secrets:
        if value.startswith("@generate:"):
            text += f"# Generated once, shared with {options.name} ({app_secrets_path(options)}).\n"
        elif value == "@generate":
            text += "# Generated; only the database itself uses it.\n"
        text += f"{key}={_fill(value, options)}\n"
    return text


def _is_small(options: NewOptions) -> bool:
    return any(word in f"{options.ref.repository}:{options.ref.tag}".lower() for word in _SMALL_WORDS)


def dockerfile(options: NewOptions) -> str:
    if options.downloads_app:
        return _app_dockerfile(options)
    arg = options.version_arg
    digest = f"@{options.ref.digest}" if options.ref.digest else ""
    ignores = ["DF009"]
    if not _is_small(options):
        ignores.insert(0, "DF002")
    why = ["# The base is the one chosen with `darse new --image`: it decides the user the application"]
    why.append(
        "# runs as (DF009)" + (", and it is not an Alpine or slim variant (DF002)." if len(ignores) > 1 else ".")
    )
    return "\n".join(
        [
            f"# {options.name}: the image {options.base_repository}, extended for this repository.",
            f"# Upgrade: bump {arg}, add that version to CHANGELOG.md and set the same tag in compose.yaml.",
            f"ARG {arg}={options.version}",
            "",
            *why,
            "# Check it (`darse rules` explains both), then drop the ignore below once that is settled.",
            f"# darse: ignore[{','.join(ignores)}]",
            f"FROM {options.base_repository}:${{{arg}}}{digest}",
            "",
            f"ARG {arg}",
            f'LABEL org.opencontainers.image.version="${{{arg}}}"',
            "",
            "# Add the changes this service needs below: configuration files, packages, a non-root USER.",
            "",
        ]
    )


def _app_dockerfile(options: NewOptions) -> str:
    """The guide's own kind of home-made image: a pinned base, the release named by an ARG, a user."""
    arg, name = options.version_arg, options.name
    if "alpine" in options.image.lower():
        add_user = f"RUN adduser -S -D -H -h /opt/{name} {name}"
    else:
        add_user = f"RUN useradd --system --no-create-home --home-dir /opt/{name} {name}"
    base = []
    if not _is_small(options):
        base = [
            "# The base is not an Alpine or slim variant (DF002): prefer one; drop the ignore once settled.",
            "# darse: ignore[DF002]",
        ]
    return "\n".join(
        [
            f"# {name}: the application's release {arg}, downloaded onto a pinned base image.",
            f"# The image's tag is that release and a build number ({options.version}): on upgrade, bump {arg},",
            "# add the new tag at the top of CHANGELOG.md and set it in compose.yaml; a change of this",
            "# Dockerfile alone keeps the release and bumps the build number.",
            *base,
            f"FROM {options.image}",
            "",
            f"ARG {arg}={options.app_version}",
            f'LABEL org.opencontainers.image.version="${{{arg}}}"',
            "",
            "# Download that release by its version, never a moving URL (`darse rules DF005` explains), e.g.:",
            f'# RUN wget -qO- "https://example.org/{name}/releases/{name}-${{{arg}}}.tar.gz" | tar -xz -C /opt',
            "",
            "# The application runs as its own user, never as root.",
            add_user,
            f"USER {name}",
            "",
        ]
    )


def changelog(options: NewOptions) -> str:
    if options.downloads_app:
        return (
            "# Changelog\n\n"
            f"Versions of the {options.name} image: the release it downloads, then a build number; the newest\n"
            "is the tag compose.yaml deploys.\n\n"
            f"## {options.version}\n\n"
            f"- First version: {options.name} {options.app_version} on {options.image}.\n"
        )
    return (
        "# Changelog\n\n"
        f"Versions of the {options.name} image; the newest is the tag compose.yaml deploys.\n\n"
        f"## {options.version}\n\n"
        f"- First version: the image {options.image}, unchanged.\n"
    )


def readme(options: NewOptions) -> str:
    name, db = options.name, options.database
    out = [f"# {name}", ""]
    if options.web_port is not None:
        out += [f"Published at https://{options.host} through Traefik.", ""]
    out += ["- **Image**: " + _image_line(options)]
    if db is not None:
        out.append(f"- **Database**: {db.title} (`{db.image}`), the Compose service `{options.db_name}`.")
    out += ["", "## Settings", ""]
    out.append(
        f"- `{app_secrets_path(options)}` (from `{app_secrets_path(options)}.example`): the secrets of {name}"
        + (f": {', '.join(key for key, _ in db.app_secrets)}." if db else ".")
    )
    if db is not None:
        out.append(
            f"- `{db_secrets_path(options)}` (from `{db_secrets_path(options)}.example`): "
            f"{', '.join(key for key, _ in db.secrets)}. The password is generated once and shared with {name}."
        )
        env = ", ".join(f"`{key}`" for key, _ in db.app_environment)
        out.append(f"- `compose.yaml`, `environment:` of {name}: {env} (where the database is).")
    if options.web_port is not None:
        out.append(f"- Traefik labels in `compose.yaml`: the host name {options.host}, the port {options.web_port}.")
    if options.tls_domains:
        out.append(
            f"- `darse.certs.*` labels in `compose.yaml`: the certificate for {', '.join(options.tls_domains)}, which "
            f"Traefik obtains (router `{options.name}-certs`, resolver `{options.cert_resolver}`) and `darse certs` "
            f"writes into `{CERTS_DIR}`; set `darse.certs.owner` to the uid:gid the daemon runs as (docs/certs.md)."
        )
    out += ["", "Real secret files stay on the host: Git ignores them, only the `.example` files are committed.", ""]
    out += ["## Volumes", ""]
    if options.data_dirs:
        dirs = ", ".join(f"`{d}`" for d in options.data_dirs)
        out.append(f"- `{name.replace('-', '_')}_data`: {dirs} of `{name}`, its data.")
    if db is not None:
        volume = options.db_name.replace("-", "_")
        out.append(f"- `{volume}`: `{db.data_dir}` of `{options.db_name}`, the database files.")
    if options.tls_domains:
        out.append(
            f"- `{options.certs_volume.replace('-', '_')}`: `{CERTS_DIR}` of `{name}` (read-only), its certificate "
            "files."
        )
    if not options.data_dirs and db is None and not options.tls_domains:
        out.append(f"- None yet: add a named volume in `compose.yaml` for each directory {name} must keep.")
    out += ["", "## Networks", ""]
    if options.web_port is not None or options.tls_domains:
        out.append(f"- `{options.proxy_network}` (external, shared with Traefik): {name} only.")
    if db is not None:
        out.append(f"- `{options.db_name}`: {name} and its database, nothing else.")
    if options.web_port is None and db is None and not options.tls_domains:
        out.append("- The project's default network only.")
    out += ["", "## Deploy", "", "```sh", f"darse secrets init {name}   # the real secret files, from the examples"]
    if options.dockerfile:
        out.append(f"darse build {name} && darse push {name}")
    out += [f"darse lint {name}", f"darse up {name}", "```", ""]
    out.append("Without darse: create the real secret files by hand from their examples, then `docker compose up -d`.")
    if options.dockerfile:
        out += [
            "",
            "## Upgrade",
            "",
            f"Bump `{options.version_arg}` in the Dockerfile, add the version at the top of CHANGELOG.md, set the",
            f"same tag in `compose.yaml`, then `darse build {name} && darse push {name} && darse up {name}`.",
        ]
        if options.downloads_app:
            out += [
                "",
                f"The tag is the release and a build number (`{options.version}`): a change of the Dockerfile alone",
                "(a package, a setting) keeps the release and bumps the build number.",
            ]
    return "\n".join(out) + "\n"


def _image_line(options: NewOptions) -> str:
    if options.downloads_app:
        return (
            f"`{options.deployed_image}`, built from the `Dockerfile`: {options.name} {options.app_version} "
            f"(`{options.version_arg}`) on `{options.image}`."
        )
    if options.dockerfile:
        return f"`{options.deployed_image}`, built from the `Dockerfile` (`FROM {options.image}`)."
    return f"`{options.image}`."
