"""The images view models on a real Git repository and the in-memory engine, whose export serves a real
`docker save` archive built in memory: `darse inspect`'s real analysis runs on it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from darse import api
from darse.dashboard.images import FAILED, READY, ImageReports, registry_view, service_images, size_text, tag_of
from darse.errors import DarseError

from helpers.deploy_repo import Repo, make_repo
from helpers.images import DB_ID, OS_RELEASE, WEB_ID, ExportingEngine, FakeRegistry


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    repo = make_repo(tmp_path, monkeypatch)
    repo.fake = ExportingEngine()
    repo.fake.add_image("example/wiki:2.5", WEB_ID, ["registry.example.org/wiki@sha256:" + "a" * 64])
    repo.fake.add_image("example/postgres:16", DB_ID)
    repo.fake.add_container("wiki-web-1", project="wiki", service="web", image="example/wiki:2.5", image_id=WEB_ID)
    return repo


def test_a_service_lists_the_images_it_runs_and_those_its_compose_file_names(repo: Repo) -> None:
    view = service_images(repo.context(), "wiki")
    by_ref = {image.reference: image for image in view.images}
    assert set(by_ref) == {"example/wiki:2.5", "example/postgres:16"}
    web, db = by_ref["example/wiki:2.5"], by_ref["example/postgres:16"]
    assert (web.image_id, web.tag, web.running) == (WEB_ID, "2.5", True)
    assert web.used_by == ["web (wiki-web-1)"]
    assert web.digests == ["registry.example.org/wiki@sha256:" + "a" * 64]
    assert (db.image_id, db.running, db.used_by) == (DB_ID, False, ["db"])
    assert view.find(WEB_ID) is web and view.find("1" * 64) is web
    assert view.find("sha256:" + "3" * 64) is None and view.find("") is None


def test_one_image_under_two_names_is_one_row_with_its_relevant_digests_first(repo: Repo) -> None:
    others = [f"127.0.0.1:{port}/elsewhere@sha256:{'e' * 64}" for port in range(5000, 5010)]
    ours = "example/postgres@sha256:" + "f" * 64
    repo.fake.add_image("example/postgres:16", WEB_ID, [*others, ours])  # the db's tag names the web's image
    view = service_images(repo.context(), "wiki")
    assert len(view.images) == 1
    image = view.images[0]
    assert (image.reference, image.aliases) == ("example/wiki:2.5", ["example/postgres:16"])
    assert image.used_by == ["web (wiki-web-1)", "db"]
    assert image.digests_total == 11 and len(image.digests) == 5 and image.digests[0] == ours


def test_an_image_the_engine_does_not_have_is_listed_without_an_id(repo: Repo) -> None:
    del repo.fake.images["example/postgres:16"]
    view = service_images(repo.context(), "wiki")
    db = next(image for image in view.images if image.reference == "example/postgres:16")
    assert db.image_id == "" and db.used_by == ["db"]
    assert view.find("") is None


def test_an_unreachable_engine_shows_the_compose_images_and_says_why(repo: Repo) -> None:
    repo.fake.reachable = False
    view = service_images(repo.context(), "wiki")
    assert "cannot reach the Docker engine" in view.error
    assert sorted(i.reference for i in view.images) == ["example/postgres:16", "example/wiki:2.5"]
    assert all(i.image_id == "" for i in view.images)


def test_an_unknown_service_is_an_error(repo: Repo) -> None:
    with pytest.raises(DarseError):
        service_images(repo.context(), "wikki")


def test_the_report_shows_layers_commands_waste_base_os_and_findings_and_is_kept(repo: Repo) -> None:
    reports = ImageReports()
    image, state = api.service_image_report(repo.context(), "wiki", WEB_ID, reports)
    assert image.image_id == WEB_ID
    state = reports.wait(WEB_ID, 30)
    assert state is not None and state.status == READY, state
    report = state.report
    assert [layer.command for layer in report.layers] == [f"RUN step {n}" for n in range(3)]
    assert [layer.size for layer in report.layers][:2] == [len(OS_RELEASE) + 5000, 3000]
    assert report.wasted_bytes == 3000 and report.wasted_files[0]["path"] == "/tmp/cache.bin"
    assert report.base_os == "Debian GNU/Linux 10 (buster)" and report.eol is True and report.eol_date
    assert any(f["kind"] == "setuid" and f["path"] == "/bin/tool" for f in report.findings), report.findings
    assert {"name": "API_TOKEN", "value": "****"} in report.env  # the report masks secret-looking values
    assert "planted-token-value" not in repr(report.document)
    # kept by ID: a second visitor's page reads nothing again
    _image, second = api.service_image_report(repo.context(), "wiki", WEB_ID.removeprefix("sha256:"), reports)
    assert second.report == state.report and reports.computed == 1 and repo.fake.exports == [WEB_ID]
    reports.close()


def test_an_image_the_service_does_not_use_is_never_read(repo: Repo) -> None:
    reports = ImageReports()
    repo.fake.add_image("other/secret:1", "sha256:" + "9" * 64)
    for wanted in ("sha256:" + "9" * 64, "other/secret:1", "../../etc", DB_ID + "x"):
        with pytest.raises(DarseError, match="uses no image"):
            api.service_image_report(repo.context(), "wiki", wanted, reports)
    with pytest.raises(DarseError):  # pad runs nothing and names example/wiki:2.5 only: not postgres
        api.service_image_report(repo.context(), "pad", DB_ID, reports)
    assert reports.computed == 0 and repo.fake.exports == []


def test_a_read_past_the_size_bound_fails_and_is_retried_only_later(repo: Repo) -> None:
    reports = ImageReports(max_bytes=1000, retry_after=3600)
    reports.request(WEB_ID, lambda: repo.fake)
    state = reports.wait(WEB_ID, 30)
    assert state is not None and state.status == FAILED
    assert "over 1.0 kB" in state.error and "darse inspect" in state.hint
    assert reports.request(WEB_ID, lambda: repo.fake) is state and reports.computed == 1
    reports.retry_after = 0
    assert reports.request(WEB_ID, lambda: repo.fake) is not state and reports.computed == 2
    reports.close()


def test_an_engine_error_is_a_failed_report_and_the_worker_goes_on(repo: Repo) -> None:
    reports = ImageReports()
    missing = "sha256:" + "4" * 64
    reports.request(missing, lambda: repo.fake)
    failed = reports.wait(missing, 30)
    assert failed is not None and failed.status == FAILED and "no image" in failed.error
    reports.request(WEB_ID, lambda: repo.fake)
    ready = reports.wait(WEB_ID, 30)
    assert ready is not None and ready.status == READY
    reports.close()


def test_reports_are_kept_up_to_a_bound(repo: Repo) -> None:
    calls: list[str] = []

    def inspect(image: str, **_kw: Any) -> Any:
        calls.append(image)
        raise DarseError("no such image", "")

    reports = ImageReports(inspect, max_reports=2)
    for n in range(4):
        reports.request(f"sha256:{n}", lambda: repo.fake)
        reports.wait(f"sha256:{n}", 30)
    assert reports.get("sha256:0") is None and reports.get("sha256:3") is not None
    assert calls == [f"sha256:{n}" for n in range(4)]
    reports.close()


def test_tags_and_sizes() -> None:
    assert tag_of("registry.example.org:5000/wiki:2.5") == "2.5"
    assert tag_of("127.0.0.1:5000/wiki") == "latest"
    assert tag_of("wiki@sha256:" + "a" * 64) == "" and tag_of("sha256:" + "a" * 64) == ""
    assert (size_text(999), size_text(1500), size_text(None)) == ("999 B", "1.5 kB", "-")


def test_no_registry_configured_says_so_with_a_hint(repo: Repo) -> None:
    view = registry_view(repo.root)
    assert view.configured is False and "darse.toml" in view.hint


def test_the_registry_lists_repositories_and_tags_with_the_login_name_only(repo: Repo, monkeypatch) -> None:
    import darse.dashboard.images as images

    repo.commit({"darse.toml": 'registry = "registry.example.org"\n'}, "registry")
    password = "planted-registry-password"
    fake = FakeRegistry({"wiki": ["2.5", "2.4"], "broken": [], "many": [str(n) for n in range(5)]}, password)
    monkeypatch.setattr(images, "MAX_DETAILED_TAGS", 3)
    view = registry_view(repo.root, lambda host: fake)
    assert (view.configured, view.host, view.user, view.error) == (True, "registry.example.org", "ci-bot", "")
    by_name = {r.name: r for r in view.repositories}
    assert [(t.tag, t.size) for t in by_name["wiki"].tags] == [("2.4", 1234), ("2.5", 1234)]
    assert [t.digest for t in by_name["many"].tags] == [""] * 5 and view.details_cut  # over the bound: names
    assert by_name["broken"].error.startswith("broken")
    assert password not in repr(view.to_dict())


def test_the_services_secret_values_are_masked_in_a_kept_report(repo: Repo) -> None:
    """A value of the service's secrets file, recorded in the image under a name that does not look
    secret (a build argument, an ENV): hidden on the service's report, though the report is kept per image."""
    planted = "planted-from-secrets-5d2e"
    (repo.root / "wiki" / "app.secrets").write_text(f"TOKEN={planted}\n")

    def inspect(image: str, **kw: Any) -> Any:
        document = api.inspect(image, **kw).to_dict()
        document["layers"][0]["created_by"] = f"|1 NOTE={planted} /bin/sh -c make"
        document["image"]["env"].append({"name": "NOTE", "value": planted})
        return SimpleNamespace(to_dict=lambda: document)

    reports = ImageReports(inspect)
    api.service_image_report(repo.context(), "wiki", WEB_ID, reports)
    assert reports.wait(WEB_ID, 30).status == READY
    _image, state = api.service_image_report(repo.context(), "wiki", WEB_ID, reports)
    assert state.report.layers[0].command == "|1 NOTE=**** /bin/sh -c make"
    assert planted not in repr(state.report) and planted not in repr(state.report.document)
    reports.close()
