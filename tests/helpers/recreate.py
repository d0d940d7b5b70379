"""A Compose service's container re-created at another address, as a redeploy does it."""

from __future__ import annotations

import subprocess


def container_ip(name: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip


def recreate_elsewhere(compose: list[str], project: str, service: str, image: str) -> tuple[str, str]:
    """Remove `service`'s container, let a placeholder container take the freed address, then start the
    service again: it gets another address. Returns (the new address, the placeholder's id to remove)."""
    subprocess.run([*compose, "rm", "--stop", "--force", service], check=True, capture_output=True, timeout=120)
    placeholder = subprocess.run(
        ["docker", "run", "-d", "--network", f"{project}_default", image, "sleep", "600"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    subprocess.run([*compose, "up", "-d", service], check=True, capture_output=True, timeout=120)
    return container_ip(f"{project}-{service}-1"), placeholder
