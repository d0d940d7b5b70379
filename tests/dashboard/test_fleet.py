"""The dashboard's view models on a real Git repository, deployment state from the in-memory engine:
commits behind and their subjects, dirty deploys, targets, lint and secrets verdicts (names, never
values) cached until the checkout changes; one service's README, CHANGELOG, Compose services, findings,
history and diff."""

from __future__ import annotations

import json

import pytest

from darse import api
from darse.dashboard.fleet import FleetCache, fleet, render_markdown, service_view
from darse.deploy.context import DeployContext
from darse.deploy.status import DRIFT, IN_SYNC, NOT_DEPLOYED, UNREACHABLE
from darse.engine.docker import COMMIT_LABEL, SERVICE_HASH_LABEL, SERVICE_LABEL
from darse.errors import DarseError

from helpers.deploy_repo import Repo, make_repo

PLANTED = "planted-Secret-Value-9f3c1e"  # a real secret value: never in any result
WIKI = """\
services:
  web:
    image: example/wiki:latest
    restart: unless-stopped
    init: true
    env_file: app.secrets
    ports:
      - "127.0.0.1:8080:3000"
    networks: [proxy, default]
    volumes:
      - wiki-data:/data
      - ./config.yml:/etc/wiki.yml:ro
  db:
    image: example/postgres:16
    restart: unless-stopped
    init: true
volumes:
  wiki-data:
networks:
  proxy:
    external: true
"""
README = """\
# Wiki

The team's wiki. See [the docs](https://docs.example.org/wiki).

## Backups

<script>alert("owned")</script>
<b>raw bold</b>
"""
CHANGELOG = """\
# Changelog

## [2.5.1] - 2026-11-20

### Fixed

- the search index
- [a link](https://example.org/x)

## [2.5.0] - 2026-10-01

- older entry
"""


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    repo = make_repo(tmp_path, monkeypatch)
    repo.commit(
        {
            "wiki/compose.yaml": WIKI,
            "wiki/app.secrets.example": "DB_PASSWORD= # @generate\nADMIN_TOKEN= # @generate\n",
            "wiki/.gitignore": "app.secrets\n",
            "wiki/config.yml": "a: 1\n",
            "wiki/README.md": README,
            "wiki/CHANGELOG.md": CHANGELOG,
            "darse.toml": '[targets.edge]\nhost = "ssh://edge.example.org"\n\n[services."pad"]\ntarget = "edge"\n',
        },
        "wiki: secrets, README, CHANGELOG",
    )
    secrets = repo.root / "wiki" / "app.secrets"
    secrets.write_text(f"DB_PASSWORD={PLANTED}\n", encoding="utf-8")  # ADMIN_TOKEN missing
    secrets.chmod(0o600)
    return repo


def _deploy(repo: Repo, ctx, project: str, revision: str, *, dirty: bool = False) -> None:
    """What a successful `darse up` leaves: a history row and labelled containers."""
    record = repo.record(
        ctx,
        project,
        revision,
        images={"web": {"config": "hw", "digests": ["example/wiki@sha256:ab", "127.0.0.1:5000/other@sha256:ab"]}},
    )
    if dirty:
        ctx.history.db.execute("UPDATE deployments SET dirty = 1 WHERE id = ?", (record.id,))
    repo.fake.add_container(
        f"{project}-web-1",
        project=project,
        service="web",
        labels={COMMIT_LABEL: revision, SERVICE_LABEL: project, SERVICE_HASH_LABEL: "hw"},
        health="healthy",
    )


def _rows(summary):
    return {row.service: row for row in summary.rows}


def test_commits_behind_counted_with_their_subjects(repo):
    ctx = repo.context()
    deployed = repo.head()
    _deploy(repo, ctx, "wiki", deployed)
    _deploy(repo, ctx, "pad", deployed)
    assert _rows(fleet(ctx))["wiki"].behind == 0
    repo.commit({"wiki/config.yml": "a: 2\n"}, "wiki: tune the config")
    repo.commit({"pad/notes.md": "pad\n"}, "pad: notes")
    repo.commit({"wiki/config.yml": "a: 3\n"}, "wiki: more tuning")
    rows = _rows(fleet(repo.context()))
    wiki, pad = rows["wiki"], rows["pad"]
    assert (wiki.state, wiki.behind) == (DRIFT, 2)
    assert [c.subject for c in wiki.commits] == ["wiki: more tuning", "wiki: tune the config"]
    assert all(len(c.hash) == 40 for c in wiki.commits)
    assert (pad.behind, [c.subject for c in pad.commits]) == (1, ["pad: notes"])
    assert (wiki.deployed_revision, wiki.head) == (deployed, repo.head())


def test_a_service_never_deployed_has_no_count_and_a_dirty_deploy_is_flagged(repo):
    ctx = repo.context()
    _deploy(repo, ctx, "wiki", repo.head(), dirty=True)
    rows = _rows(fleet(ctx))
    assert (rows["pad"].state, rows["pad"].behind, rows["pad"].commits) == (NOT_DEPLOYED, None, [])
    wiki = rows["wiki"]
    assert (wiki.state, wiki.dirty_deploy, wiki.behind) == (IN_SYNC, True, 0)
    assert (wiki.running, wiki.healthy, wiki.total, wiki.last_action, wiki.last_outcome) == (1, 1, 1, "up", "success")
    (repo.root / "wiki" / "config.yml").write_text("a: edited\n")
    assert _rows(fleet(repo.context()))["wiki"].uncommitted == ["wiki/config.yml"]


def test_targets_and_their_kinds(repo):
    rows = _rows(fleet(repo.context()))
    assert (rows["wiki"].target, rows["wiki"].target_kind) == ("local", "local")
    assert (rows["pad"].target, rows["pad"].target_kind) == ("edge", "host")


def test_lint_counts_and_missing_secret_keys_without_values(repo):
    summary = fleet(repo.context())
    wiki, pad = _rows(summary)["wiki"], _rows(summary)["pad"]
    report = api.lint(None, repo.root).to_dict()
    errors = [f for f in report["findings"] if f["service"] == "wiki" and f["severity"] == "error"]
    assert wiki.verdict.lint_errors == len(errors) >= 1  # example/wiki:latest is not pinned
    assert pad.verdict.lint_errors == 0 and pad.verdict.lint_warnings >= 1  # pad has no README
    assert (wiki.verdict.missing_keys, pad.verdict.missing_keys) == (1, 0)
    assert PLANTED not in json.dumps(summary.to_dict())


def test_verdicts_are_cached_until_the_checkout_changes(repo):
    cache = FleetCache()
    errors = _rows(fleet(repo.context(), cache))["wiki"].verdict.lint_errors
    fleet(repo.context(), cache)
    assert cache.computed == 1
    (repo.root / "wiki" / "app.secrets").write_text(f"DB_PASSWORD={PLANTED}\nADMIN_TOKEN=x{PLANTED}\n")
    assert _rows(fleet(repo.context(), cache))["wiki"].verdict.missing_keys == 0  # `secrets init` is seen
    assert cache.computed == 2
    fleet(repo.context(), cache)
    assert cache.computed == 2
    repo.commit({"wiki/compose.yaml": WIKI.replace("example/wiki:latest", "example/wiki:2.5")}, "wiki: pin")
    summary = fleet(repo.context(), cache)
    assert cache.computed == 3  # HEAD moved
    assert _rows(summary)["wiki"].verdict.lint_errors == errors - 1  # the unpinned tag, fixed
    fleet(repo.context(), cache)
    assert cache.computed == 3


def test_an_unreachable_engine_still_lists_every_service(repo):
    repo.fake.reachable = False
    summary = fleet(repo.context())
    assert summary.error == ""  # Git and the history answered: each target's failure is said on its own
    assert [(t.target, t.services) for t in summary.unreachable] == [("edge", ["pad"]), ("local", ["wiki"])]
    assert all("cannot reach the Docker engine" in t.message for t in summary.unreachable)
    assert sorted(row.service for row in summary.rows) == ["pad", "wiki"]
    assert {row.state for row in summary.rows} == {UNREACHABLE}
    assert not any(row.containers_known for row in summary.rows)
    assert _rows(summary)["wiki"].verdict.missing_keys == 1


def test_one_unreachable_target_leaves_the_other_rows_exact(repo):
    def connect(endpoint):
        if endpoint.docker_host == "ssh://edge.example.org":
            raise DarseError("cannot reach the Docker engine at ssh://edge.example.org (TimeoutError)", "check it")
        return repo.fake.connect(endpoint)

    ctx = repo.context()
    _deploy(repo, ctx, "wiki", repo.head())
    _deploy(repo, ctx, "pad", repo.head())
    ctx = DeployContext.open(repo.root, connect_engine=connect)
    summary = fleet(ctx)
    rows = _rows(summary)
    assert (rows["wiki"].state, rows["wiki"].running, rows["wiki"].deployed_revision) == (IN_SYNC, 1, repo.head())
    assert (rows["pad"].state, rows["pad"].deployed_revision, rows["pad"].last_action) == (
        UNREACHABLE,
        repo.head(),  # the history still knows what was deployed there
        "up",
    )
    assert "edge.example.org" in rows["pad"].error and rows["wiki"].error == ""
    assert [(t.target, t.services, t.hint) for t in summary.unreachable] == [("edge", ["pad"], "check it")]
    assert summary.to_dict()["unreachable"][0]["target"] == "edge"
    view = service_view(ctx, "wiki")  # the local service's page is whole
    assert (view.error, view.row.state, view.row.total) == ("", IN_SYNC, 1)
    view = service_view(ctx, "pad")
    assert "edge.example.org" in view.error and view.row.state == UNREACHABLE


def test_commits_between_lists_the_files_of_each_commit(repo):
    git = repo.context().revisions.git
    first = repo.head()
    repo.commit({"wiki/a b.txt": "x\n", "pad/c.txt": "y\n"}, "both, with a space\n\nand a body")
    commits = git.commits_between(first, repo.head())
    assert [(c.subject, c.files) for c in commits] == [("both, with a space", ("pad/c.txt", "wiki/a b.txt"))]
    assert git.commits_between("0" * 40, repo.head()) is None
    assert git.commits_between(repo.head(), repo.head()) == []


def test_a_service_view(repo):
    ctx = repo.context()
    _deploy(repo, ctx, "wiki", repo.head())
    view = service_view(repo.context(), "wiki")
    assert "<h3>Wiki</h3>" in view.readme_html and "<h4>Backups</h4>" in view.readme_html  # below the page's own h1, h2
    assert '<a href="https://docs.example.org/wiki">the docs</a>' in view.readme_html
    assert "<script>" not in view.readme_html and "&lt;script&gt;" in view.readme_html
    assert "<b>" not in view.readme_html
    assert view.changelog is not None and view.changelog.version == "2.5.1"
    assert "the search index" in view.changelog.html and "older entry" not in view.changelog.html
    web = next(c for c in view.compose if c.name == "web")
    assert (web.image, web.digests, web.ports) == (
        "example/wiki:latest",
        ["example/wiki@sha256:ab"],  # not the same image's digest in another repository
        ["127.0.0.1:8080:3000"],
    )
    assert web.networks == ["default", "proxy"]
    assert web.volumes == ["wiki-data:/data (volume)", "./config.yml:/etc/wiki.yml:ro (bind)"]
    latest = next(f for f in view.findings if f["rule"] == "DC015")
    assert (latest["path"], latest["line"]) == ("wiki/compose.yaml", 3)
    assert view.row.verdict.lint_errors >= 1
    assert [(m.path, m.keys) for m in view.missing_keys] == [("wiki/app.secrets", ["ADMIN_TOKEN"])]
    assert [(h["action"], h["outcome"]) for h in view.history] == [("up", "success")]
    assert view.diff is not None and "DB_PASSWORD: '****'" in view.diff  # Compose's reading, masked
    assert PLANTED not in json.dumps(view.to_dict())


def test_a_service_never_deployed_has_no_diff_and_an_unknown_one_is_an_error(repo):
    view = service_view(repo.context(), "pad")
    assert (view.diff, view.history, view.readme_html, view.changelog) == (None, [], "", None)
    with pytest.raises(DarseError, match="no service named 'nope'"):
        service_view(repo.context(), "nope")


def test_markdown_keeps_safe_links_only():
    html = render_markdown("[x](javascript:alert(1)) [y](https://example.org) <img src=x onerror=alert(1)>")
    assert 'href="https://example.org"' in html
    assert "javascript:" not in html.replace("[x](javascript:alert(1))", "")
    assert "<img" not in html
