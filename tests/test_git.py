"""darse.git, the one module that runs Git, against real repositories in temporary folders: working
changes (renames, untracked files, awkward names that must come back exactly), revisions, archives,
the origin URL, the bounded log stream, and the errors (with hints) outside a work tree."""

from __future__ import annotations

import io
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

import darse.git
from darse.deploy.revisions import Revisions
from darse.errors import DarseError
from darse.git import Git, GitFailed, GitTimeout, NotAWorkTree, check_clean, parse_status, without_credentials
from darse.model.git import GitInfo

from helpers.cli import run_darse
from helpers.repo import git_init, write_tree

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@darse.invalid"]
ODD = ["with space.txt", 'quo"te.txt', "new\nline.txt", "ünïcødé ✓.txt", "back\\slash.txt", "-dash.txt"]


def git(root: Path, *args: str) -> str:
    return subprocess.run([*GIT, "-C", str(root), *args], capture_output=True, text=True, check=True).stdout


def commit(root: Path, message: str = "change") -> str:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_tree(tmp_path, {".gitignore": "*.secrets\n", "app/compose.yaml": "services: {}\n", "app/a.txt": "a\n"})
    git_init(tmp_path)
    return tmp_path


def test_working_changes_with_a_rename_a_change_and_untracked_files(repo: Path) -> None:
    git(repo, "mv", "app/a.txt", "app/b.txt")
    (repo / "app/compose.yaml").write_text("services: {x: {}}\n")
    write_tree(repo, {"app/new/deep.txt": "n\n", "app/real.secrets": "T=1\n", "other/o.txt": "o\n"})
    changes = Git(repo).working_changes("app")
    assert sorted(changes) == ["app/b.txt", "app/compose.yaml", "app/new/deep.txt"]  # not the rename's source
    assert sorted(Git(repo).working_changes()) == ["app/b.txt", "app/compose.yaml", "app/new/deep.txt", "other/o.txt"]
    assert Git(repo / "app").working_changes("other") == ["other/o.txt"]  # from the top, wherever asked


def test_awkward_paths_come_back_exactly(repo: Path) -> None:
    folder = repo / "app"
    for name in ODD:
        (folder / name).write_text("1\n")
    commit(repo)
    assert {f"app/{name}" for name in ODD} <= GitInfo(repo).tracked
    assert set(ODD) <= Git(folder).tracked_files()
    for name in ODD:
        (folder / name).write_text("2\n")  # modified
        (folder / ("untracked " + name)).write_text("u\n")
    git(repo, "mv", "--", f"app/{ODD[0]}", 'app/renamed "é"\n.txt')
    changes = Git(repo).working_changes("app")
    expected = {f"app/{name}" for name in ODD[1:]} | {f"app/untracked {name}" for name in ODD}
    assert set(changes) == expected | {'app/renamed "é"\n.txt'}
    assert len(changes) == len(expected) + 1


def test_a_folder_name_is_literal_not_a_pattern(repo: Path) -> None:
    write_tree(repo, {"[ab]/x.txt": "x\n", "a/y.txt": "y\n"})
    assert Git(repo).working_changes("[ab]") == ["[ab]/x.txt"]
    assert Git(repo).working_changes("*") == []


def test_parse_status_renames_copies_and_short_entries() -> None:
    out = b"R  new name\0old name\0 M mod\0C  copy\0source\0?? new\nline\0\0"
    assert parse_status(out) == ["new name", "mod", "copy", "new\nline"]
    assert parse_status(b"") == []
    assert parse_status("?? caf\u00e9\0".encode()) == ["caf\u00e9"]


def test_ignored_paths_exactly(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.secrets\n*ignored*\n")
    asked = ["app/real.secrets", "app/a.txt", "x/with space ignored.txt", "ü ignored\n.txt", 'q"ignored']
    assert GitInfo(repo).ignored(asked) == set(asked) - {"app/a.txt"}
    assert GitInfo(repo).ignored(["app/a.txt"]) == set()  # exit status 1: none ignored, an answer


def test_head_resolve_commit_time_and_a_missing_revision(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "app/a.txt").write_text("b\n")
    second = commit(repo)
    git(repo, "tag", "v1", first)
    tree = Git(repo)
    assert tree.head() == second
    assert tree.resolve("v1") == first and tree.resolve("HEAD~1") == first
    assert tree.commit_time(second) == int(git(repo, "log", "-1", "--format=%ct").strip())
    for missing in ("nope", "a..b", "0" * 40):
        with pytest.raises(GitFailed, match="unknown revision") as raised:
            tree.resolve(missing)
        assert raised.value.hint
    with pytest.raises(GitFailed, match="is not a revision"):
        tree.resolve("--all")
    assert tree.knows(first) and not tree.knows("0" * 40) and not tree.knows("--all")
    assert tree.has_path(first, "app/a.txt") and not tree.has_path(first, "app/nothing")
    assert tree.changed_between(first, second) == ["app/a.txt"]
    assert tree.changed_between("0" * 40, second) is None and tree.changed_between("", second) is None
    with pytest.raises(GitFailed):
        tree.archive("0" * 40, "app")


def test_archive_and_materialise_a_folder_as_of_a_commit(repo: Path, tmp_path_factory) -> None:
    (repo / "app" / ODD[2]).write_text("odd\n")
    old = commit(repo)
    (repo / "app/a.txt").write_text("later\n")
    commit(repo)
    with tarfile.open(fileobj=io.BytesIO(Git(repo).archive(old, "app")), mode="r:") as archive:
        assert {"a.txt", "compose.yaml", ODD[2]} <= set(archive.getnames())
    dest = tmp_path_factory.mktemp("materialised")
    Revisions(repo).materialise(old, "app", dest)
    assert (dest / "a.txt").read_text() == "a\n" and (dest / ODD[2]).read_text() == "odd\n"
    with pytest.raises(DarseError, match="does not exist at"):
        Revisions(repo).materialise(old, "gone", dest)


def test_prefix_below_the_top(repo: Path) -> None:
    assert Git(repo).prefix() == "" and Git(repo / "app").prefix() == "app/"
    assert Revisions(repo / "app").service_path("svc") == "app/svc"


def test_not_a_work_tree_is_an_error_with_a_hint_or_no_answer(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x\n")
    tree = Git(tmp_path, hint="what darse needs Git for")
    for question in (tree.prefix, tree.head, lambda: tree.working_changes(""), lambda: tree.resolve("HEAD")):
        with pytest.raises(NotAWorkTree) as raised:
            question()
        assert raised.value.message == f"{tmp_path} is not in a Git work tree"
        assert raised.value.hint == "what darse needs Git for"
        assert isinstance(raised.value, DarseError)
    assert not tree.is_work_tree and tree.tracked_files() == frozenset() and tree.ignored(["x.txt"]) == set()
    assert tree.origin_url() == ""
    info = GitInfo(tmp_path)
    assert not info.is_repository and info.tracked == frozenset() and info.ignored(["x.txt"]) == set()
    with pytest.raises(NotAWorkTree, match="not in a Git work tree"):
        Git(tmp_path / "missing").prefix()


def test_deploy_outside_a_work_tree_says_so(tmp_path: Path) -> None:
    with pytest.raises(NotAWorkTree) as raised:
        _ = Revisions(tmp_path).head
    assert raised.value.hint == "darse deploys committed services: git init"


def test_build_outside_a_work_tree_exits_2_with_the_hint(tmp_path: Path) -> None:
    write_tree(tmp_path, {"darse.toml": 'registry = "r.invalid"\n', "app/compose.yaml": "services: {}\n"})
    result = run_darse("build", "app", cwd=tmp_path)
    assert result.exit_code == 2
    assert "is not in a Git work tree" in result.stderr and "labels images with their commit" in result.stderr


def test_a_repository_without_commits(tmp_path: Path) -> None:
    git_init(tmp_path, commit=False)
    with pytest.raises(GitFailed, match="has no commit yet"):
        Git(tmp_path).head()
    with Git(tmp_path).log_lines("--format=%H", paths=[]) as lines:
        assert list(lines) == []


def test_origin_url_without_credentials(repo: Path) -> None:
    assert Git(repo).origin_url() == ""
    git(repo, "remote", "add", "origin", "https://user:s3cr3t-token@git.example.org/infra.git")
    assert Git(repo).origin_url() == "https://git.example.org/infra.git"
    assert without_credentials("git@git.example.org:infra.git") == "git@git.example.org:infra.git"
    assert without_credentials(" ssh://me@host/x \n") == "ssh://host/x"


def test_credentials_are_cut_from_git_errors(repo: Path) -> None:
    with pytest.raises(GitFailed) as raised:
        Git(repo).run("ls-remote", "--", "https://user:s3cr3t-token@127.0.0.1:9/x.git")
    assert "s3cr3t-token" not in raised.value.one_line()


def test_log_stream_lines_early_exit_and_bounded_line(repo: Path, monkeypatch) -> None:
    for n in range(5):
        (repo / "app/a.txt").write_text(f"{n}\n")
        commit(repo, f"c{n}")
    with Git(repo).log_lines("--format=%s", paths=["app"]) as lines:
        assert list(lines) == ["c4", "c3", "c2", "c1", "c0", "initial"]
    with Git(repo).log_lines("--format=%s", "-p", paths=[]) as lines:
        assert next(lines) == "c4"  # leaving early kills git, and is no error
    (repo / "app/long.txt").write_text("x" * 100 + "\nafter\n")
    commit(repo, "long")
    monkeypatch.setattr(darse.git, "MAX_LINE", 16)
    with darse.git.stream(repo, "show", "HEAD:app/long.txt") as lines:
        assert list(lines) == ["x" * 16, "after"]


def test_log_stream_failure_and_time_bound(repo: Path) -> None:
    with pytest.raises(GitFailed, match="git log failed"), Git(repo).log_lines("--no-such-option", paths=[]) as lines:
        list(lines)
    started = time.monotonic()
    slow = darse.git.stream(repo, "-c", "alias.slow=!sleep 30", "slow", timeout=0.5)
    with pytest.raises(GitTimeout, match="took longer than"), slow as lines:
        list(lines)
    assert time.monotonic() - started < 10  # git and the sleep it started are both killed


def test_runner_time_bound(repo: Path) -> None:
    started = time.monotonic()
    with pytest.raises(GitTimeout, match="git slow took longer than"):
        darse.git.run(repo, "-c", "alias.slow=!sleep 30", "slow", timeout=0.5)
    assert time.monotonic() - started < 10


def test_git_missing_is_an_error_with_a_hint(repo: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(repo))
    with pytest.raises(darse.git.GitMissing) as raised:
        Git(repo).prefix()
    assert "cannot run git" in raised.value.message and "install Git" in raised.value.hint
    assert not Git(repo).is_work_tree  # "no answer" for the model


def test_one_check_clean_for_deploy_and_build() -> None:
    assert check_clean("wiki", [], False, hint="h") is False
    assert check_clean("wiki", ["wiki/a"], True, hint="h") is True
    with pytest.raises(DarseError) as raised:
        check_clean("wiki", ["wiki/a", "wiki/b", "wiki/c"], False, hint="deploy hint")
    assert raised.value.message == "wiki has uncommitted changes (wiki/a and 2 more)"
    assert raised.value.hint == "deploy hint"
    with pytest.raises(DarseError) as raised:
        check_clean("service wiki", ["wiki/a", "wiki/b"], False, hint="build hint", listed=3)
    assert raised.value.message == "service wiki has uncommitted changes (wiki/a, wiki/b)"


def test_the_model_asks_each_question_once(repo: Path, monkeypatch) -> None:
    """`darse lint` reads GitInfo on every run: one process per question, answers kept."""
    started: list[list[str]] = []
    real = subprocess.Popen

    def counting(command, *args, **kwargs):
        started.append(command)
        return real(command, *args, **kwargs)

    monkeypatch.setattr(darse.git.subprocess, "Popen", counting)
    info = GitInfo(repo)
    for _ in range(2):
        assert info.is_repository and "app/a.txt" in info.tracked
    assert info.ignored(["app/x.secrets"]) == {"app/x.secrets"}
    assert [command[3] for command in started] == ["rev-parse", "ls-files", "check-ignore"]
