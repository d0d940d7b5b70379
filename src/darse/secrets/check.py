"""`darse secrets check` and `diff`: what is wrong with a service's secret files, by name, never by value.

`check_service` is also the deploy preflight: it reads only, runs at most two Git queries, and
returns problems instead of raising (a malformed example still raises a DarseError).
"""

from __future__ import annotations

import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path

from darse.errors import DarseError
from darse.fsutil import UnsafeFile
from darse.model.dotenv import EnvEntry, parse_env
from darse.model.repository import Repository
from darse.model.service import Service
from darse.secrets.example import Example, is_placeholder, load_example
from darse.secrets.files import SecretPair, env_file_uses, read_real, read_real_text, secret_pairs, unusual_lines

# Problem kinds (stable: they appear in --json and the deploy code matches on them)
MISSING = "missing"  # an env_file or an example's real file does not exist
UNREADABLE = "unreadable"  # a real file exists but cannot be read
KEY_MISSING = "key-missing"  # a key of the example is absent from the real file
PLACEHOLDER = "placeholder"  # a key the example generates is empty or still a placeholder
LINK_MISMATCH = "link-mismatch"  # keys linked by @generate:LABEL hold different values
TRACKED = "tracked"  # a real secret file is tracked by Git
NOT_IGNORED = "not-ignored"  # a real secret file is not ignored by Git
WORLD_READABLE = "world-readable"  # a real secret file is readable by every user of the host
SYNTAX = "syntax"  # a line Compose reads otherwise than KEY=value (`KEY: value`, an unclosed quote)
LEAKED_FILE = "history-file"  # a real secret file was committed at some point
LEAKED_LITERAL = "history-literal"  # a secret-looking literal was added to a Compose file or Dockerfile


@dataclass(frozen=True)
class SecretProblem:
    """One problem. `path` is relative to the repository root; no field ever holds a secret value."""

    path: str
    kind: str
    message: str
    service: str = ""
    key: str | None = None
    commit: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class SecretDiff:
    """Keys of one real file compared with its example."""

    path: str
    example: str | None
    exists: bool
    missing: list[str] = field(default_factory=list)  # in the example, not in the real file
    extra: list[str] = field(default_factory=list)  # in the real file, not in the example

    @property
    def differs(self) -> bool:
        return not self.exists or bool(self.missing or self.extra)

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "example": self.example, "exists": self.exists, "missing": self.missing,
                "extra": self.extra}  # fmt: skip


def check_service(repository: Repository, service: Service | str) -> list[SecretProblem]:
    """Every problem of one service's secret files (the deploy preflight). History is not scanned."""
    if isinstance(service, str):
        service = repository.service(service)
    return _Checker(repository, service).run()


class _Checker:
    def __init__(self, repository: Repository, service: Service) -> None:
        self.repository = repository
        self.service = service
        self.problems: list[SecretProblem] = []
        self.pairs = secret_pairs(service)
        self.examples = {
            pair.real: load_example(pair.example, repository.relative(pair.example), within=repository.root)
            for pair in self.pairs
            if pair.example is not None
        }

    def add(self, path: Path, kind: str, message: str, key: str | None = None) -> None:
        self.problems.append(SecretProblem(self.repository.relative(path), kind, message, self.service.name, key))

    def run(self) -> list[SecretProblem]:
        self._missing()
        linked: dict[str, list[tuple[Path, str, str]]] = {}
        for pair in self.pairs:
            if pair.real.exists():
                self._real_file(pair, linked)
        self._links(linked)
        self._git()
        return self.problems

    def _missing(self) -> None:
        reported: set[Path] = set()
        for use in env_file_uses(self.service):
            if use.required and not use.path.exists() and use.path not in reported:
                reported.add(use.path)
                hint = (
                    f"run darse secrets init {self.service.name}"
                    if use.path in self.examples
                    else "create it, or commit an example next to it and run darse secrets init"
                )
                rel = self.repository.relative(use.path)
                self.add(use.path, MISSING, f"env_file {rel} of service {use.compose_service} does not exist; {hint}")
        for pair in self.pairs:
            if pair.example is not None and pair.real not in reported and not pair.real.exists():
                rel = self.repository.relative(pair.real)
                self.add(pair.real, MISSING, f"{rel} does not exist; run darse secrets init {self.service.name}")

    def _real_file(self, pair: SecretPair, linked: dict[str, list[tuple[Path, str, str]]]) -> None:
        rel = self.repository.relative(pair.real)
        try:
            mode = pair.real.stat().st_mode
            text = read_real_text(pair.real)
        except UnsafeFile as exc:
            self.add(pair.real, UNREADABLE, f"{rel} is not read: {exc.message}")
            return
        except OSError as exc:
            self.add(pair.real, UNREADABLE, f"{rel} cannot be read: {exc.strerror}")
            return
        entries = parse_env(text)
        if mode & stat.S_IRWXO:
            self.add(pair.real, WORLD_READABLE, f"{rel} is readable by every user of the host; chmod 600 it")
        for number, key, why in unusual_lines(text):
            named = f" ({key})" if key else ""
            self.add(pair.real, SYNTAX, f"{rel}:{number}{named} {why}", key or None)
        example = self.examples.get(pair.real)
        if example is not None:
            self._against_example(pair.real, rel, example, entries, linked)

    def _against_example(
        self,
        real: Path,
        rel: str,
        example: Example,
        entries: list[EnvEntry],
        linked: dict[str, list[tuple[Path, str, str]]],
    ) -> None:
        values = {entry.key: entry.value for entry in entries}
        for entry in example.entries:
            if entry.key not in values:
                self.add(real, KEY_MISSING, f"{rel} lacks {entry.key}, which its example sets", entry.key)
                continue
            if entry.generate and is_placeholder(values[entry.key]):
                self.add(
                    real,
                    PLACEHOLDER,
                    f"{entry.key} in {rel} is empty or still a placeholder; set a real value "
                    f"(darse secrets init {self.service.name} --force regenerates the service's files)",
                    entry.key,
                )
            elif entry.label:
                linked.setdefault(entry.label, []).append((real, entry.key, values[entry.key]))

    def _links(self, linked: dict[str, list[tuple[Path, str, str]]]) -> None:
        for label, uses in sorted(linked.items()):
            if len({value for _path, _key, value in uses}) > 1:
                names = ", ".join(f"{key} in {self.repository.relative(path)}" for path, key, _value in uses)
                path, key, _value = uses[-1]
                self.add(path, LINK_MISMATCH, f"values linked by @generate:{label} differ: {names}", key)

    def _git(self) -> None:
        git = self.repository.git
        if not git.is_repository:
            return
        reals = {self.repository.relative(pair.real): pair.real for pair in self.pairs}
        reals = {rel: path for rel, path in reals.items() if not rel.startswith("/")}
        tracked = git.tracked
        for rel, path in reals.items():
            if rel in tracked:
                self.add(
                    path,
                    TRACKED,
                    f"{rel} is tracked by Git: its secrets are published; git rm --cached it and change every value",
                )
        ignored = git.ignored(list(reals))
        for rel, path in reals.items():
            if rel not in ignored and rel not in tracked:
                self.add(path, NOT_IGNORED, f"{rel} is not ignored by Git; darse secrets init fixes .gitignore")


def diff_service(repository: Repository, service: Service | str) -> list[SecretDiff]:
    """Keys missing from or extra in each real file compared with its example (names only)."""
    if isinstance(service, str):
        service = repository.service(service)
    diffs = []
    for pair in secret_pairs(service):
        rel = repository.relative(pair.real)
        example = (
            load_example(pair.example, repository.relative(pair.example), within=repository.root)
            if pair.example
            else None
        )
        expected = example.keys() if example else []
        example_rel = repository.relative(pair.example) if pair.example else None
        if not pair.real.exists():
            diffs.append(SecretDiff(rel, example_rel, False, expected, []))
            continue
        try:
            present = list(dict.fromkeys(entry.key for entry in read_real(pair.real)))
        except OSError as exc:
            raise DarseError(f"cannot read {rel}: {exc.strerror}", "check the file's permissions") from None
        diffs.append(
            SecretDiff(
                rel,
                example_rel,
                True,
                [key for key in expected if key not in present],
                [key for key in present if key not in expected],
            )
        )
    return diffs
