"""Domain names as certificates hold them: lowercase A-labels, wildcards matched by RFC 6125 rules.

Pure functions without cryptography, so that lint can match a consumer's domains against the routers
that request certificates without loading the X.509 machinery."""

from __future__ import annotations

import re

MAX_NAME = 253
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def normalize_domain(name: str, *, wildcard: bool = True) -> str:
    """`name` as a certificate's DNS SAN holds it: lowercase, A-labels (IDNA), no final dot.

    A leading `*.` (the whole leftmost label) is kept when `wildcard` allows it; anything else that is
    not a host name raises ValueError with a short reason (the name itself is not secret: it is shown)."""
    text = name.strip().rstrip(".").lower()
    if not text:
        raise ValueError("an empty name")
    star = text.startswith("*.")
    if star and not wildcard:
        raise ValueError("a wildcard is not allowed here")
    rest = text[2:] if star else text
    if "*" in rest:
        raise ValueError("a wildcard may only be the whole leftmost label (*.example.org)")
    if not rest.isascii():
        import idna  # only for international names: its tables take a while to load

        try:
            rest = idna.encode(rest, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"not a valid international name ({exc})") from None
    labels = rest.split(".")
    if any(not _LABEL.fullmatch(label) for label in labels):
        raise ValueError("a host name is dot-separated labels of letters, digits and inner hyphens")
    if star and len(labels) < 2:
        raise ValueError("a wildcard needs at least two labels after it (*.example.org)")
    result = f"*.{rest}" if star else rest
    if len(result) > MAX_NAME:
        raise ValueError(f"longer than {MAX_NAME} characters")
    return result


def covers(pattern: str, name: str) -> bool:
    """Whether a certificate name (`pattern`, possibly `*.example.org`) serves the host `name`.

    RFC 6125 §6.4.3 as browsers apply it: case-insensitive; a wildcard stands for exactly one whole
    leftmost label, so `*.example.org` serves `ldap.example.org` but neither `a.b.example.org` nor
    `example.org`. A wildcard `name` is served only by the same wildcard."""
    try:
        pattern = normalize_domain(pattern)
        name = normalize_domain(name)
    except ValueError:
        return False
    if pattern == name:
        return True
    if not pattern.startswith("*.") or name.startswith("*."):
        return False
    head, _, tail = name.partition(".")
    return bool(head) and tail == pattern[2:]


def covers_all(patterns: list[str] | tuple[str, ...], names: list[str] | tuple[str, ...]) -> bool:
    """Whether every one of `names` is served by one of `patterns`."""
    return all(any(covers(pattern, name) for pattern in patterns) for name in names)
