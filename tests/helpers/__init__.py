"""Helpers shared by test modules (imported as `helpers.X`; conftest only holds fixtures): lint
helpers, golden files, image archives, the in-memory fake engine, a deploy repository."""

import pytest

# The lint helpers assert on behalf of the tests: pytest explains their failures as it does the tests'.
pytest.register_assert_rewrite("helpers.lint")
