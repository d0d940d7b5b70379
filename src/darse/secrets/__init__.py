"""Secrets kept out of Git: real secret files made from committed examples, and checks that they stay out.

The public API (the CLI and the deploy preflight use only these):

- `check_service(repository, service) -> list[SecretProblem]`: the preflight, no history;
- `scan_leaks(repository, services=None) -> list[SecretProblem]`: `check --history` (the Git log);
- `diff_service(repository, service) -> list[SecretDiff]`: keys missing or extra, by name;
- `plan_init(repository, services, force=False) -> InitPlan`, `apply_init(repository, plan)`, and
  `init_services(...)` for both at once.

No function here prints, logs or raises with a secret value; `InitFile.values` (the generated values,
for `--show`) is the only place one leaves this package.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each name is imported from its module on first use: the deploy preflight needs only `check_service`,
# and importing the Git log scanner and the generator with it would cost every `darse up`.
_EXPORTS = {
    "ExampleEntry": "example",
    "InitFile": "init",
    "InitPlan": "init",
    "SecretDiff": "check",
    "SecretProblem": "check",
    "apply_init": "init",
    "check_service": "check",
    "diff_service": "check",
    "init_services": "init",
    "is_placeholder": "example",
    "parse_example": "example",
    "plan_init": "init",
    "scan_leaks": "leaks",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'darse.secrets' has no attribute {name!r}")
    return getattr(importlib.import_module(f"darse.secrets.{module}"), name)
