"""`darse serve`: the web dashboard, and `darse serve user ...`, its users.

Whoever signs in as an operator controls the Docker engine (root on the host): the dashboard listens
on 127.0.0.1 unless told otherwise, refuses to start without a user, and passwords are read from a
prompt or stdin, never from the command line (where `ps` and shell histories would show them).
"""

from __future__ import annotations

import getpass
import ipaddress
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from darse import api
from darse.cli.output import print_json
from darse.errors import DarseError

serve_app = typer.Typer(
    help="The web dashboard of the fleet (sign-in required; see docs/serve.md).",
    invoke_without_command=True,
)
user_app = typer.Typer(
    help="The dashboard's users: bcrypt hashes with a role (viewer or operator).", no_args_is_help=True
)
serve_app.add_typer(user_app, name="user")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

USERS_HELP = "The users file [default: <state dir>/dashboard-users]."


def _users_file(users: Path | None) -> Path:
    return users if users is not None else api.dashboard_users_file(Path.cwd())


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "[::]", "")


def served_names(host: str, host_names: list[str]) -> tuple[str, ...]:
    """The Host header names the dashboard answers: loopback names, the listening address when it is one
    a visitor can type, and `--host-name`s. Without them, a page on any site could rebind its own name to
    this address and drive the engine from a signed-out visitor's browser (DNS rebinding); the session
    cookie would not follow, but the sign-in form would. `*` turns the check off."""
    if "*" in host_names:
        return ()
    names = [*LOOPBACK_NAMES, *(name.strip() for name in host_names if name.strip())]
    if host not in WILDCARDS:
        names.append(host.strip("[]"))
    elif not host_names:
        raise DarseError(
            f"listening on {host or 'every address'} needs the names visitors will use",
            f"add --host-name NAME (the dashboard's domain or this machine's address), e.g. darse serve --host {host} "
            "--host-name dashboard.example.org",
        )
    return tuple(dict.fromkeys(names))


@serve_app.callback()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (a proxy in front for others)."),
    port: int = typer.Option(8700, "--port", help="Port to listen on.", min=1, max=65535),
    users: Path = typer.Option(None, "--users", help=USERS_HELP),
    secure_cookies: bool = typer.Option(
        False, "--secure-cookies", help="Behind HTTPS: send the session cookie over TLS only."
    ),
    trusted_proxy: str = typer.Option(
        None, "--trusted-proxy", help="The proxy's address or network: the only one whose X-Forwarded-For counts."
    ),
    idle_hours: float = typer.Option(12.0, "--idle-hours", help="A session unused this long ends.", min=0.1),
    host_names: list[str] = typer.Option(
        None,
        "--host-name",
        help="A name visitors reach the dashboard by (its domain behind a proxy); repeatable. "
        "Loopback names are always served; '*' serves any name.",
    ),
) -> None:
    """Serve the dashboard of the repository around the current folder (Ctrl-C stops it)."""
    ctx.obj = {"users": users}
    if ctx.invoked_subcommand is not None:
        return
    from darse.web.app import ServeSettings, create_app
    from darse.web.auth import trusted_networks

    proxies = [str(network) for network in trusted_networks(trusted_proxy)]  # a typo stops here, not later
    allowed_hosts = served_names(host, host_names or [])
    if not api.open_repository(Path.cwd()).services:  # said now, not as a 503 on every page
        raise DarseError(
            f"no service in {Path.cwd()} or above it",
            "start darse serve in your services repository (a folder with darse.toml or a Git checkout of it)",
        )
    users_file = _users_file(users)
    if not api.list_dashboard_users(users_file):
        raise DarseError(
            f"no dashboard user in {users_file}",
            "add one first: darse serve user add NAME --role operator"
            + (f" --users {users_file}" if users is not None else ""),
        )
    settings = ServeSettings(
        start=Path.cwd(),
        users_file=users_file,
        secret_key=api.dashboard_session_key(users_file),
        secure_cookies=secure_cookies,
        idle_hours=idle_hours,
        trusted_proxy=trusted_proxy,
        allowed_hosts=allowed_hosts,
    )
    if not _is_loopback(host) and not secure_cookies:
        err.print(
            f"[bold yellow]warning:[/] listening on {escape(host)} without --secure-cookies: the session cookie "
            "(which controls the Docker engine) travels in clear unless HTTPS is in front; put a proxy with TLS "
            "there and add --secure-cookies"
        )
    _check_free(host, port)
    import uvicorn

    _log_sign_ins()
    err.print(f"darse serve: http://{escape(host)}:{port}/ (users from {escape(str(users_file))})")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        # X-Forwarded-For and -Proto are believed from the trusted proxy only, and from nobody by default
        proxy_headers=bool(proxies),
        forwarded_allow_ips=",".join(proxies),
        server_header=False,
        log_level="info",
        timeout_graceful_shutdown=3,  # open event streams (a fleet page) must not hold Ctrl-C
    )


def _check_free(host: str, port: int) -> None:
    """One line before the banner when the address cannot be listened on (uvicorn would print its own
    error after it and exit 3)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise DarseError(
                f"cannot listen on {host}:{port}: {exc.strerror or type(exc).__name__}",
                "another program listens there (a darse serve already running?): choose another --port",
            ) from None


def _log_sign_ins() -> None:
    """Sign-ins, sign-outs and failures on stderr beside uvicorn's own lines (names and addresses only)."""
    import logging

    logger = logging.getLogger("darse.web")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _read_password(from_stdin: bool) -> str:
    """One line of stdin (when asked, or when stdin is not a terminal); else a hidden prompt, twice."""
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline(4096).rstrip("\r\n")
        if not password:
            raise DarseError(
                "no password on stdin", "pipe it in: printf '%s\\n' \"$PASSWORD\" | darse serve user add NAME"
            )
        return password
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise DarseError("the two passwords differ", "type the same password twice")
    return first


def _users_option(ctx: typer.Context, users: Path | None) -> Path:
    """`--users` given to the subcommand, else to `darse serve`, else the default."""
    if users is None and isinstance(ctx.obj, dict):  # click hands `darse serve`'s obj down
        users = ctx.obj.get("users")
    return _users_file(users)


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="User name (letters, digits, '.', '_', '@', '-')."),
    role: str = typer.Option("viewer", "--role", help="viewer (reads) or operator (reads and acts)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    users: Path = typer.Option(None, "--users", help=USERS_HELP),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Add a user, or change its password and role (its open sessions end). The password comes from a
    prompt or stdin, never from the command line."""
    api.check_dashboard_user_name(name)
    if role not in ("viewer", "operator"):
        raise DarseError(f"unknown role {role[:40]!r}", "use --role viewer (reads) or --role operator (reads and acts)")
    users_file = _users_option(ctx, users)
    change = api.add_dashboard_user(users_file, name, _read_password(password_stdin), role)
    if json_flag:
        print_json(change.to_dict(), indent=None)
        return
    verb = "added" if change.action == "added" else "changed the password and role of"
    out.print(f"{verb} {escape(name)} ({change.user.role}) in {escape(str(change.file))}")


@user_app.command("role")
def user_role(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="User name."),
    role: str = typer.Argument(..., help="viewer (reads) or operator (reads and acts)."),
    users: Path = typer.Option(None, "--users", help=USERS_HELP),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Change a user's role, password kept: their open sessions get it at their next request."""
    change = api.set_dashboard_user_role(_users_option(ctx, users), name, role)
    if json_flag:
        print_json(change.to_dict(), indent=None)
        return
    out.print(f"{escape(name)} is now {change.user.role} in {escape(str(change.file))}")


@user_app.command("remove")
def user_remove(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="User name."),
    users: Path = typer.Option(None, "--users", help=USERS_HELP),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Remove a user: their open sessions end at their next request."""
    change = api.remove_dashboard_user(_users_option(ctx, users), name)
    if json_flag:
        print_json(change.to_dict(), indent=None)
        return
    out.print(f"removed {escape(name)} from {escape(str(change.file))}")


@user_app.command("list")
def user_list(
    ctx: typer.Context,
    users: Path = typer.Option(None, "--users", help=USERS_HELP),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable listing."),
) -> None:
    """List the users and their roles (hashes are never shown)."""
    users_file = _users_option(ctx, users)
    found = api.list_dashboard_users(users_file)
    if json_flag:
        print_json([user.to_dict() for user in found], indent=None)
        return
    if not found:
        out.print(f"no users in {escape(str(users_file))}")
    for user in found:
        out.print(f"{escape(user.name)}  {user.role}")


@serve_app.command("init")
def serve_init(
    name: str = typer.Option("darse", "--name", help="The service folder to write, at the repository's root."),
    domain: str = typer.Option(
        None, "--domain", help="The dashboard's host name [default: NAME.<domain of darse.toml>]."
    ),
    trusted_proxy: str = typer.Option(
        None,
        "--trusted-proxy",
        help="Traefik's address or network [default: the subnets of the proxy network, asked of the engine].",
    ),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Write a service folder that runs this dashboard behind Traefik (compose.yaml, Dockerfile, README,
    CHANGELOG, locked requirements and a wheel of this darse); an existing folder is never overwritten."""
    report = api.init_serve_folder(Path.cwd(), name=name, domain=domain, trusted_proxy=trusted_proxy)
    if json_flag:
        print_json(report.to_dict(), indent=None)
        return
    out.print(f"wrote {escape(report.relative)}/: {escape(', '.join(report.files))}")
    findings = len(report.lint.findings)
    out.print(f"darse lint {escape(report.relative)}: " + ("clean" if not findings else f"{findings} finding(s)"))
    out.print("[bold]Whoever signs in as an operator controls the engine: root on this host[/] (see its README.md).")
    out.print("next: darse serve user add NAME --role operator; darse build, push and up " + escape(report.relative))


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app, name="serve")
