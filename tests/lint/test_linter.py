"""The linter as a whole (darse.lint.linter): a compliant service is clean, and darse.toml's `[lint]`
settings disable rules or change their severity, per path too; a rule they name must exist."""

from __future__ import annotations

import pytest

from darse.errors import DarseError
from darse.lint.linter import LintResult
from darse.lint.rule import Severity

from helpers.lint import COMPOSE, GOOD_SERVICE, Lint, lint_compose


def test_good_service_is_clean(lint: Lint) -> None:
    result = lint_compose(lint, GOOD_SERVICE, {"app/README.md": "# app\n"})
    assert result.findings == []


# --- darse.toml [lint] settings ------------------------------------------------------------------


NO_RESTART_NO_INIT = """
services:
  app:
    image: example/app:1.0
"""


def findings_by_rule(result: LintResult, path: str) -> dict[str, Severity]:
    """Severity of each compose rule found in one file (one finding per rule in these cases)."""
    return {f.rule: f.severity for f in result.findings if f.path == path and f.rule.startswith("DC")}


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        pytest.param("", {"DC004": Severity.WARNING, "DC005": Severity.WARNING}, id="defaults"),
        pytest.param('[lint]\ndisable = ["DC004"]\n', {"DC005": Severity.WARNING}, id="disable-by-id"),
        pytest.param('[lint]\ndisable = ["init-missing"]\n', {"DC004": Severity.WARNING}, id="disable-by-name"),
        pytest.param(
            '[lint]\nseverity = { DC004 = "error", init-missing = "info" }\n',
            {"DC004": Severity.ERROR, "DC005": Severity.INFO},
            id="severity",
        ),
    ],
)
def test_lint_settings(lint: Lint, toml: str, expected: dict[str, Severity]) -> None:
    result = lint_compose(lint, NO_RESTART_NO_INIT, {"darse.toml": toml})
    assert findings_by_rule(result, COMPOSE) == expected


def test_per_path_overrides_apply_only_to_matching_files(lint: Lint) -> None:
    toml = """
    [lint]
    severity = { DC005 = "error" }

    [[lint.per_path]]
    paths = ["legacy/*"]
    disable = ["DC004"]
    severity = { DC005 = "info" }
    """
    result = lint({COMPOSE: NO_RESTART_NO_INIT, "legacy/compose.yaml": NO_RESTART_NO_INIT, "darse.toml": toml})
    assert findings_by_rule(result, COMPOSE) == {"DC004": Severity.WARNING, "DC005": Severity.ERROR}
    assert findings_by_rule(result, "legacy/compose.yaml") == {"DC005": Severity.INFO}


@pytest.mark.parametrize(
    "toml",
    [
        pytest.param('[lint]\ndisable = ["DC999"]\n', id="disable"),
        pytest.param('[lint]\nseverity = { restart-polcy = "info" }\n', id="severity"),
        pytest.param('[[lint.per_path]]\npaths = ["app/*"]\ndisable = ["DC04"]\n', id="per-path"),
    ],
)
def test_unknown_rule_in_darse_toml_is_an_error(lint: Lint, toml: str) -> None:
    with pytest.raises(DarseError, match="unknown rule"):
        lint_compose(lint, GOOD_SERVICE, {"darse.toml": toml})
