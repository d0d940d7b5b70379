"""Importing this package registers every rule (each module registers its own on import)."""

from darse.lint.rules import backup, certs, compose, dockerfile, parse, repository, swarm  # noqa: F401
