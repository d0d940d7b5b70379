"""Two folders, one Compose project (`x/blog` and `x-blog`): deploying one would remove the other's
containers (`compose up --remove-orphans`), so darse refuses, and `darse status` says why."""

from __future__ import annotations

import json
import shutil
import subprocess

from helpers.deploy import Stack, stack_fixture  # noqa: F401  (the `stack` fixture)


def test_a_second_folder_on_the_same_project_is_refused_and_the_first_untouched(stack: Stack) -> None:
    # a folder inside a service belongs to it: the pair is NAME-grp/blog and NAME-grp-blog
    nested = stack.root / f"{stack.name}-grp" / "blog"
    twin = stack.root / f"{stack.name}-grp-blog"
    shutil.copytree(stack.folder, twin)
    stack.commit("the twin")
    deployed = stack.darse("up", twin.name, "--timeout", "30")
    assert deployed.returncode == 0, deployed.stderr
    project = twin.name.lower()
    before = {c.id for c in stack.engine.containers.list(filters={"label": f"com.docker.compose.project={project}"})}
    assert len(before) == 2
    nested.parent.mkdir()
    shutil.copytree(stack.folder, nested)
    stack.commit("a folder that maps to the same project")
    for action in (("up", f"{nested.parent.name}/blog"), ("down", f"{nested.parent.name}/blog")):
        refused = stack.darse(*action)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"both map to the Compose project {project}" in refused.stderr and "hint:" in refused.stderr
    again = stack.darse("up", twin.name)  # the first folder is refused as well now
    assert again.returncode == 2
    after = {c.id for c in stack.engine.containers.list(filters={"label": f"com.docker.compose.project={project}"})}
    assert after == before  # nothing of the deployed twin was touched
    rows = {row["service"]: row for row in json.loads(stack.darse("status", "--json").stdout)["services"]}
    for name in (twin.name, f"{nested.parent.name}/blog"):
        assert any("also maps to the Compose project" in w for w in rows[name]["warnings"]), rows[name]
    assert rows[stack.name]["warnings"] == []  # the near miss: a folder alone on its project
    subprocess.run(["docker", "compose", "-p", project, "down"], capture_output=True, check=False, timeout=120)


def test_status_warns_about_containers_deployed_from_another_folder(stack: Stack) -> None:
    stranger = stack.engine.containers.run(
        "darse-test/deploy-web:1.0",
        ["sleep", "600"],
        detach=True,
        labels={"com.docker.compose.project": stack.name, "org.darse.service": "elsewhere/app"},
    )
    try:
        rows = {row["service"]: row for row in json.loads(stack.darse("status", "--json").stdout)["services"]}
        assert rows[stack.name]["warnings"] == [f"containers of project {stack.name} were deployed from elsewhere/app"]
        text = stack.darse("status")
        assert "were deployed from elsewhere/app" in " ".join(text.stdout.split())
    finally:
        stranger.remove(force=True)
