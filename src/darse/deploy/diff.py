"""`darse diff`: what `up` would change, as a unified diff of masked resolved configurations."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass

import yaml

from darse.deploy import resolved
from darse.deploy.context import DeployContext
from darse.engine.compose import ComposeRunner
from darse.errors import DarseError
from darse.masking import masker_for_compose
from darse.model.service import Service


@dataclass
class ConfigDiff:
    service: str
    deployed_revision: str
    head: str
    diff: str

    @property
    def changed(self) -> bool:
        return bool(self.diff)

    def to_dict(self) -> dict[str, object]:
        return {
            "service": self.service,
            "deployed_revision": self.deployed_revision or None,
            "head": self.head,
            "changed": self.changed,
            "diff": self.diff,
        }


def _yaml(data: object) -> list[str]:
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True).splitlines(keepends=True)


def config_diff(ctx: DeployContext, service: Service) -> ConfigDiff:
    project = ctx.project(service)
    compose_path = service.deploy_file
    overrides = service.overrides_beside(compose_path)
    masker = masker_for_compose(compose_path, *overrides)
    try:
        config = ComposeRunner(project, ctx.endpoint_of(service), masker.text).config(compose_path, overrides)
    except DarseError:
        # a missing secret file is the usual reason: say it as `darse up` does, not as Compose does
        from darse.deploy.preflight import check_secrets

        check_secrets(ctx.repository, service)
        raise
    current = resolved.masked(config, (service.path,), masker)
    last = ctx.history.last_success(project)
    deployed = json.loads(last.config_masked) if last is not None else {}
    label = f"deployed ({last.revision[:12]})" if last is not None else "deployed (nothing recorded)"
    lines = difflib.unified_diff(_yaml(deployed) if deployed else [], _yaml(current), label, "working tree")
    return ConfigDiff(service.name, last.revision if last else "", ctx.revisions.head, "".join(lines))
