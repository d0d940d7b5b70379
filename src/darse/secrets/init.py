"""`darse secrets init`: real secret files made from their examples, all or nothing.

Planning reads and checks everything first (a malformed example stops the run before any write);
applying fixes `.gitignore`, then writes each file, and on any failure undoes what it did.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from darse.errors import DarseError
from darse.fsutil import write_atomic
from darse.model.dotenv import EnvEntry
from darse.model.repository import Repository
from darse.model.service import Service
from darse.secrets.example import Example, load_example
from darse.secrets.files import SecretPair, read_real, read_real_text, secret_pairs, write_secret
from darse.secrets.generate import LinkedValues, render_real
from darse.secrets.gitignore import GitignoreFix, apply_gitignore, plan_gitignore, undo_gitignore

CREATE, REGENERATE, KEEP = "created", "regenerated", "kept"


@dataclass
class InitFile:
    """One real secret file and what init does with it. `text`, `values` and `old_text` hold secrets:
    they are left out of the repr, and only `--show` ever prints `values`."""

    service: str
    path: str  # relative to the repository root
    example: str
    action: str  # created | regenerated | kept (exists already, left as it is)
    generated: list[str] = field(default_factory=list)  # keys given random values
    defaults: list[str] = field(default_factory=list)  # keys copied from the example
    real: Path = field(default=Path(), repr=False)
    text: str = field(default="", repr=False)
    values: dict[str, str] = field(default_factory=dict, repr=False)
    old_text: str | None = field(default=None, repr=False)
    old_mode: int = field(default=0o600, repr=False)


@dataclass
class InitPlan:
    files: list[InitFile]
    gitignore: GitignoreFix | None

    @property
    def overwrites(self) -> list[InitFile]:
        return [f for f in self.files if f.action == REGENERATE]

    @property
    def writes(self) -> list[InitFile]:
        return [f for f in self.files if f.action != KEEP]


def plan_init(repository: Repository, services: list[Service], force: bool = False) -> InitPlan:
    """What init would write for `services`; reads only. `force` regenerates existing files too."""
    files: list[InitFile] = []
    reals: list[Path] = []
    for service in services:
        files += _plan_service(repository, service, force)
        reals += [pair.real for pair in secret_pairs(service)]
    return InitPlan(files, plan_gitignore(repository, reals))


def _plan_service(repository: Repository, service: Service, force: bool) -> list[InitFile]:
    pairs = [pair for pair in secret_pairs(service) if pair.example is not None]
    examples = {pair.real: _load(repository, pair) for pair in pairs}
    links = LinkedValues()
    # values of linked keys in files that stay as they are must be shared with the files made now
    for pair in pairs:
        if pair.real.exists() and not force:
            real_values = {entry.key: entry.value for entry in _read_existing(repository, pair.real)}
            for entry in examples[pair.real].entries:
                if entry.label and entry.key in real_values:
                    links.remember(entry.label, real_values[entry.key])
    planned = []
    for pair in pairs:
        example = examples[pair.real]
        assert pair.example is not None
        exists = pair.real.exists() or pair.real.is_symlink()
        item = InitFile(
            service=service.name,
            path=repository.relative(pair.real),
            example=repository.relative(pair.example),
            action=KEEP if exists and not force else REGENERATE if exists else CREATE,
            real=pair.real,
        )
        if item.action != KEEP:
            item.text, item.values = render_real(example, pair.example.name, links)
            item.generated = list(item.values)
            item.defaults = [e.key for e in example.entries if not e.generate]
            if exists:
                item.old_text = _read_text(repository, pair.real)
                item.old_mode = os.stat(pair.real).st_mode & 0o777
        planned.append(item)
    return planned


def _load(repository: Repository, pair: SecretPair) -> Example:
    assert pair.example is not None
    return load_example(pair.example, repository.relative(pair.example), within=repository.root)


def _read_existing(repository: Repository, path: Path) -> list[EnvEntry]:
    try:
        return read_real(path)
    except OSError as exc:
        raise DarseError(
            f"cannot read {repository.relative(path)}: {exc.strerror}", "check the file's permissions"
        ) from None


def _read_text(repository: Repository, path: Path) -> str:
    try:
        return read_real_text(path, errors="surrogateescape")
    except OSError as exc:
        raise DarseError(
            f"cannot read {repository.relative(path)}: {exc.strerror}", "check the file's permissions"
        ) from None


def apply_init(repository: Repository, plan: InitPlan) -> None:
    """Fix `.gitignore`, then write every planned file; on a failure, undo everything and raise."""
    if plan.gitignore is not None:
        apply_gitignore(repository, plan.gitignore)
    done: list[InitFile] = []
    try:
        for item in plan.writes:
            try:
                write_secret(item.real, item.text, overwrite=item.action == REGENERATE)
            except OSError as exc:
                raise DarseError(
                    f"cannot write {item.path}: {exc.strerror}", "check the folder's permissions and free space"
                ) from None
            done.append(item)
    except BaseException:
        _undo(done, plan.gitignore)
        raise


def _undo(done: list[InitFile], gitignore: GitignoreFix | None) -> None:
    for item in reversed(done):
        try:
            if item.old_text is None:
                item.real.unlink(missing_ok=True)
            else:
                write_atomic(item.real, item.old_text.encode("utf-8", "surrogateescape"), item.old_mode)
        except OSError:
            pass  # best effort: the original error is the one to report
    if gitignore is not None:
        with contextlib.suppress(OSError):
            undo_gitignore(gitignore)


def init_services(repository: Repository, services: list[Service], force: bool = False) -> list[InitFile]:
    """Plan and apply in one call (no confirmation: callers ask before passing `force`)."""
    plan = plan_init(repository, services, force)
    apply_init(repository, plan)
    return plan.files
