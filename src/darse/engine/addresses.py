"""Where a running container can be reached: its address on each of its networks, and the ports it
says it listens on (the image's EXPOSE and Compose's `expose:`, as the engine merged them).

`darse tunnel` forwards a local port to one of these addresses: bridge networks are reachable from the
engine's host, so a container that publishes no port is still one hop away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from darse.engine.docker import Engine


@dataclass(frozen=True)
class ContainerAddresses:
    """One container as inspected: running or not, its IPv4 address per network, its exposed TCP ports."""

    id: str
    name: str
    image: str  # as the Compose file named it (`Config.Image`), e.g. `postgres:15`
    running: bool
    networks: dict[str, str] = field(default_factory=dict)  # network name -> IPv4 address ("" when none)
    exposed: tuple[int, ...] = ()  # TCP ports of `Config.ExposedPorts`, sorted


def container_addresses(engine: Engine, container: str) -> ContainerAddresses:
    """Inspect `container` (id or name) on `engine`; NotFound of the engine's client when it is gone."""
    raw = engine.api.inspect_container(container)
    return addresses_of(raw)


def addresses_of(raw: dict[str, Any]) -> ContainerAddresses:
    """The addresses in an inspect answer (kept apart for tests and for answers read elsewhere)."""
    config = raw.get("Config") or {}
    state = raw.get("State") or {}
    settings = (raw.get("NetworkSettings") or {}).get("Networks") or {}
    networks = {str(name): str((value or {}).get("IPAddress") or "") for name, value in settings.items()}
    exposed = set()
    for key in config.get("ExposedPorts") or {}:
        number, _slash, protocol = str(key).partition("/")
        if (protocol or "tcp") == "tcp" and number.isdigit() and 0 < int(number) < 65536:
            exposed.add(int(number))
    return ContainerAddresses(
        id=str(raw.get("Id", "")),
        name=str(raw.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")),
        running=bool(state.get("Running")),
        networks=networks,
        exposed=tuple(sorted(exposed)),
    )
