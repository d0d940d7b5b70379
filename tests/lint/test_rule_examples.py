"""`darse rules RULE` shows an example that fires and a near miss: each pair is linted for real, so
the explanation never shows a rule that would not fire, or a fix that would not pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.lint.docs import EXAMPLES, example_file
from darse.lint.rule import RULES

from helpers.lint import lint_tree, write_tree

SERVICE = "services:\n  app:\n    image: example/app:1.0\n    restart: unless-stopped\n    init: true\n"
CONFIG = 'proxy_network = "docker_default"\n'
SWARM = '[targets.cluster]\nkind = "swarm"\ncontext = "swarm"\n[services.app]\ntarget = "cluster"\n'
BACKUP = '[backup]\nrepository = "/srv/backup"\n[backup.services.app]\nexclude = ["cache"]\n'
CHECKED = sorted(rule_id for rule_id in EXAMPLES if example_file(RULES[rule_id]))


def fired(tmp_path: Path, rule_id: str, example: str) -> bool:
    files = {
        "darse.toml": CONFIG
        + (SWARM if rule_id.startswith(("SW", "BK")) else "")
        + (BACKUP if rule_id.startswith("BK") else ""),
        "app/README.md": "# app\n",
        "app/app.conf": "x\n",
        "app/entrypoint.sh": "#!/bin/sh\nexec sleep 1\n",
    }
    if example_file(RULES[rule_id]) == "Dockerfile":
        files["app/Dockerfile"] = example
        files["app/CHANGELOG.md"] = "## 1.0\n"
        lacks_init = "lacking `init: true`" in example
        files["app/compose.yaml"] = SERVICE.replace("    init: true\n", "") if lacks_init else SERVICE
    else:
        files["app/compose.yaml"] = example
    write_tree(tmp_path, files)
    return any(f.rule == rule_id for f in lint_tree(tmp_path).findings)


def test_every_rule_has_examples() -> None:
    assert set(EXAMPLES) == set(RULES)
    assert all(fires and passes and fires != passes for fires, passes in EXAMPLES.values())


@pytest.mark.parametrize("rule_id", CHECKED)
def test_the_example_fires(tmp_path: Path, rule_id: str) -> None:
    assert fired(tmp_path, rule_id, EXAMPLES[rule_id][0])


@pytest.mark.parametrize("rule_id", CHECKED)
def test_the_near_miss_passes(tmp_path: Path, rule_id: str) -> None:
    assert not fired(tmp_path, rule_id, EXAMPLES[rule_id][1])
