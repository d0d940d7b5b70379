"""SSH logins started before the command line is even parsed, for `darse tunnel NAME...`.

A tunnel to an ssh:// target waits on two things: the SSH login (a few hundred milliseconds, more over
a real network) and darse's own start (the CLI framework's imports and the planning's, about as long).
Started at the first instant, from darse.toml alone, the login goes on while the rest is imported, and
`darse.tunnel.ssh_carrier` takes the master over as its own (benchmarks/tunnel_bench.py measures it).

The words are read here without the CLI's parser, simply: a name or option read wrongly costs only a
login nobody takes, ended when darse exits; the real parse and the planning report mistakes as usual.
"""

from __future__ import annotations

import atexit
import contextlib
from pathlib import Path

from darse import ssh
from darse.config import find_root, load_config
from darse.errors import DarseError
from darse.state import state_dir
from darse.tunnel.plan import ssh_hosts

_VALUED = {"--to", "--port", "--local"}  # `darse tunnel` options followed by a value
_QUIET = {"--background", "--help", "-h"}  # a background tunnel logs in from its own process
_started: dict[tuple[str, str], ssh.Master] = {}  # (state folder, host URL) → a master not taken yet


def tunnel_names(words: list[str]) -> list[str]:
    """The tunnel names among the words after `tunnel` (none for `ls`, `stop` or `--background`)."""
    if not words or words[0] in ("ls", "stop") or _QUIET.intersection(words):
        return []
    names: list[str] = []
    skip = False
    for word in words[1:] if words[0] == "open" else words:
        if skip:
            skip = False
        elif word in _VALUED:
            skip = True
        elif not word.startswith("-"):
            names.append(word)
    return names


def begin_logins(start: Path, words: list[str]) -> None:
    """Start the logins `darse tunnel WORDS...` will need; never raises (see the module)."""
    names = tunnel_names(words)
    if not names:
        return
    with contextlib.suppress(DarseError, OSError, ValueError):
        root = find_root(start)
        config = load_config(root)
        state = state_dir(config, root)
        for url in ssh_hosts(config, names):
            with contextlib.suppress(DarseError):
                _started[(str(state), url)] = ssh.Master.launch(ssh.Host.parse(url), state)
    if _started:
        atexit.register(_end_untaken)


def take(state: Path, url: str) -> ssh.Master | None:
    """The master started here for `url` with control socket under `state`, now the caller's to end."""
    return _started.pop((str(state), url), None)


def _end_untaken() -> None:
    for master in _started.values():
        master.kill()
    _started.clear()
