"""Override files merged onto their base as Compose merges them, every value pointing at its own file."""

from __future__ import annotations

import textwrap
from pathlib import Path

from darse.model.overrides import LINE_SHIFT, load_merged


def _merged(tmp_path: Path, base: str, override: str):
    (tmp_path / "compose.yaml").write_text(textwrap.dedent(base).lstrip(), encoding="utf-8")
    (tmp_path / "compose.override.yaml").write_text(textwrap.dedent(override).lstrip(), encoding="utf-8")
    merged = load_merged(tmp_path / "compose.yaml", (tmp_path / "compose.override.yaml",))
    return merged, merged.root.get("services").get("app")


BASE = """
services:
  app:
    image: example/app:1.0
    command: ["serve", "--port", "80"]
    ports:
      - "8080:80"
    volumes:
      - data:/var/lib/app
      - ./conf:/etc/app
    environment:
      MODE: prod
      LEVEL: info
    dns:
      - 1.1.1.1
"""


def test_mappings_merge_scalars_replace_and_positions_name_the_file(tmp_path: Path) -> None:
    merged, app = _merged(
        tmp_path,
        BASE,
        """
        services:
          app:
            image: example/app:2.0
            restart: unless-stopped
        """,
    )
    assert app.get("image").text() == "example/app:2.0"
    assert app.get("restart").text() == "unless-stopped"
    assert merged.locate(app.get("image").line) == (tmp_path / "compose.override.yaml", 3)
    assert merged.locate(app.get("command").line) == (tmp_path / "compose.yaml", 4)  # untouched: the base's


def test_sequences_follow_the_compose_merge_rules(tmp_path: Path) -> None:
    _, app = _merged(
        tmp_path,
        BASE,
        """
        services:
          app:
            command: ["serve"]
            ports:
              - "8080:80"
              - "8443:443"
            volumes:
              - other:/var/lib/app
            environment:
              - LEVEL=debug
              - EXTRA=1
            dns:
              - 1.1.1.1
              - 8.8.8.8
        """,
    )
    plain = app.plain()
    assert plain["command"] == ["serve"]  # replaced, not appended
    assert plain["ports"] == ["8080:80", "8443:443"]  # same unique key merged, new one appended
    assert plain["volumes"] == ["other:/var/lib/app", "./conf:/etc/app"]  # unique by target
    assert sorted(plain["environment"]) == ["EXTRA=1", "LEVEL=debug", "MODE=prod"]  # by name, either syntax
    assert plain["dns"] == ["1.1.1.1", "8.8.8.8"]  # appended without repeating


def test_reset_and_override_tags(tmp_path: Path) -> None:
    _, app = _merged(
        tmp_path,
        BASE,
        """
        services:
          app:
            ports: !reset []
            dns: !override
              - 9.9.9.9
            environment:
              MODE: !reset null
        """,
    )
    plain = app.plain()
    assert "ports" not in plain
    assert plain["dns"] == ["9.9.9.9"]
    assert plain["environment"] == {"LEVEL": "info"}


def test_a_broken_override_is_reported_at_its_own_line(tmp_path: Path) -> None:
    merged, app = _merged(tmp_path, BASE, "services:\n  app:\n    image: [oops\n")
    assert app.get("image").text() == "example/app:1.0"  # the base still stands
    (problem,) = merged.problems
    assert problem.line > LINE_SHIFT
    assert merged.locate(problem.line)[0] == tmp_path / "compose.override.yaml"
    assert merged.locate(problem.line)[1] <= 4


def test_a_line_of_the_base_is_never_taken_for_the_override(tmp_path: Path) -> None:
    merged, _ = _merged(tmp_path, BASE, "services:\n  app:\n    init: true\n")
    assert merged.locate(3) == (tmp_path / "compose.yaml", 3)
