"""Dockerfile rules, one module per family; importing the package registers them all."""

from darse.lint.rules.dockerfile import apt, base_images, downloads, runtime, secrets  # noqa: F401
