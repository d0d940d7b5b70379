"""darse.api: every entry point the interfaces call resolves, and importing it costs nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from darse import api


@pytest.mark.parametrize("name", sorted(api.ENTRY_POINTS))
def test_every_entry_point_is_a_callable_of_the_library(name: str) -> None:
    entry = getattr(api, name)
    assert callable(entry)
    assert entry.__module__.startswith("darse.") and not entry.__module__.startswith("darse.cli")


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'deploy_everything'"):
        _ = api.deploy_everything


def test_importing_the_api_loads_no_capability() -> None:
    """`darse up` imports darse.api: the registry, inspect, lint and Swarm code must stay unloaded."""
    code = (
        "import sys, darse.api; "
        "print(sorted(m for m in sys.modules if m.startswith(('darse.images', 'darse.lint', 'darse.deploy'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_every_command_module_calls_the_api() -> None:
    """The CLI calls the library through darse.api, as the dashboard will: no command module imports an
    entry module (`*.commands`, build, push) to call it directly."""
    import ast
    from pathlib import Path

    import darse.cli

    entry_modules = {module for module, _attribute in api.ENTRY_POINTS.values()}
    offenders = []
    for path in sorted(Path(darse.cli.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in entry_modules:
                called = {alias.name for alias in node.names} & {a for _m, a in api.ENTRY_POINTS.values()}
                if called:
                    offenders.append(f"{path.name}:{node.lineno} {node.module} {sorted(called)}")
    assert offenders == []


def test_the_typed_imports_name_every_entry_point() -> None:
    """Readers and type checkers see the entry points in the `if TYPE_CHECKING:` block: it must list each one."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(api.__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    typed = {
        (alias.asname or alias.name): (node.module, alias.name)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert typed == api.ENTRY_POINTS
