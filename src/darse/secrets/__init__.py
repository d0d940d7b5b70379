"""Secrets kept out of Git: real secret files made from committed examples, and checks that they stay out.

The public API (the CLI and the deploy preflight use only these):

- `check_service(repository, service) -> list[SecretProblem]`: the preflight, no history;
- `scan_history(repository, services=None) -> list[SecretProblem]`: `check --history`;
- `diff_service(repository, service) -> list[SecretDiff]`: keys missing or extra, by name;
- `plan_init(repository, services, force=False) -> InitPlan`, `apply_init(repository, plan)`, and
  `init_services(...)` for both at once.

No function here prints, logs or raises with a secret value; `InitFile.values` (the generated values,
for `--show`) is the only place one leaves this package.
"""

from darse.secrets.check import SecretDiff, SecretProblem, check_service, diff_service
from darse.secrets.example import ExampleEntry, is_placeholder, parse_example
from darse.secrets.history import scan_history
from darse.secrets.init import InitFile, InitPlan, apply_init, init_services, plan_init

__all__ = [
    "ExampleEntry",
    "InitFile",
    "InitPlan",
    "SecretDiff",
    "SecretProblem",
    "apply_init",
    "check_service",
    "diff_service",
    "init_services",
    "is_placeholder",
    "parse_example",
    "plan_init",
    "scan_history",
]
