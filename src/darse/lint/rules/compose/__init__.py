"""Compose rules, one module per family; importing the package registers them all."""

from darse.lint.rules.compose import images, lifecycle, networks, ports, secrets, version, volumes  # noqa: F401
