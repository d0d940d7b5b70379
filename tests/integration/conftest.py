"""Fixtures of the integration tests; the helpers live in tests_integration_support (importable)."""

from tests_integration_support import busybox, engine, project_name  # noqa: F401  (pytest fixtures)
