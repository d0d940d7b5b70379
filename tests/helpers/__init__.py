"""Plain helper functions shared by test modules (fixtures stay in conftest.py)."""

import pytest

# The helpers assert on behalf of the tests: pytest explains their failures as it does the tests'.
pytest.register_assert_rewrite("helpers.lint")
