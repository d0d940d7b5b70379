"""Inline ignore comments (darse.lint.ignores), in Compose files and Dockerfiles alike: what they
silence, where they must sit, and how an ignore Docker would read as an argument is reported."""

from __future__ import annotations

import pytest

from helpers.lint import COMPOSE, DOCKERFILE, GOOD_SERVICE, Lint, lint_compose, lint_dockerfile, rule_hits

# --- Compose files ----------------------------------------------------------------------------------


RESTART_ALWAYS = """
services:
  app:
    image: example/app:1.0
    restart: always{same_line}
    init: true
"""


@pytest.mark.parametrize(
    ("compose", "expected"),
    [
        pytest.param(RESTART_ALWAYS.format(same_line="  # darse: ignore[DC004]"), [], id="end-of-line"),
        pytest.param(RESTART_ALWAYS.format(same_line="  # darse: ignore[restart-policy]"), [], id="by-name"),
        pytest.param(RESTART_ALWAYS.format(same_line="  # darse: ignore[all]"), [], id="all"),
        pytest.param(
            RESTART_ALWAYS.format(same_line="").replace("    restart:", "    # darse: ignore[dc004]\n    restart:"),
            [],
            id="line-above-any-case",
        ),
        pytest.param(RESTART_ALWAYS.format(same_line="  # darse: ignore[DC005]"), [(4, 14)], id="other-rule"),
        pytest.param(
            RESTART_ALWAYS.format(same_line="").replace("  app:", "  # darse: ignore[DC004]\n  app:"),
            [(5, 14)],
            id="two-lines-above",
        ),
    ],
)
def test_inline_ignore(lint: Lint, compose: str, expected: list[tuple[int, int]]) -> None:
    assert rule_hits(lint_compose(lint, compose), "DC004") == [(COMPOSE, *where) for where in expected]


def test_inline_ignore_above_service_key_silences_only_that_rule(lint: Lint) -> None:
    compose = """
    services:
      # darse: ignore[DC004]
      app:
        image: example/app:1.0
    """
    result = lint_compose(lint, compose)
    assert rule_hits(result, "DC004") == []
    assert rule_hits(result, "DC005") == [(COMPOSE, 3, 3)]


# --- Dockerfiles ----------------------------------------------------------------------------------


# A RUN whose DF010 finding is on its third line (a continuation line), and which also trips DF011.
IGNORED_RUN = r"""
    FROM debian:bookworm-slim
    USER app
    {comment}
    RUN apt-get update \
     && apt-get install -y curl
    """


@pytest.mark.parametrize(
    ("comment", "df010", "df011"),
    [
        pytest.param("# darse: ignore[DF010]", [], [(4, 5)], id="by-id"),
        pytest.param("# darse: ignore[apt-no-recommends]", [], [(4, 5)], id="by-name"),
        pytest.param("# darse: ignore[df010]", [], [(4, 5)], id="id-in-lower-case"),
        pytest.param("# darse: ignore[DF011, apt-no-recommends]", [], [], id="two-rules"),
        pytest.param("# darse: ignore[DF011]", [(5, 5)], [], id="other-rule-does-not-silence"),
        pytest.param("# darse: ignore[base-image-tag]", [(5, 5)], [(4, 5)], id="other-rule-by-name"),
        pytest.param("# just a comment", [(5, 5)], [(4, 5)], id="plain-comment"),
    ],
)
def test_inline_ignore_above_instruction(
    lint: Lint, comment: str, df010: list[tuple[int, int]], df011: list[tuple[int, int]]
) -> None:
    result = lint_dockerfile(lint, IGNORED_RUN.format(comment=comment))
    assert rule_hits(result, "DF010") == [(DOCKERFILE, *position) for position in df010]
    assert rule_hits(result, "DF011") == [(DOCKERFILE, *position) for position in df011]


def test_inline_ignore_covers_a_heredoc_body(lint: Lint) -> None:
    dockerfile = """
        FROM debian:bookworm-slim
        USER app
        # darse: ignore[DF010]
        RUN <<EOF
        apt-get install -y curl
        EOF
        RUN apt-get install -y git
        """
    assert rule_hits(lint_dockerfile(lint, dockerfile), "DF010") == [(DOCKERFILE, 7, 5)]


def test_inline_ignore_must_be_right_above(lint: Lint) -> None:
    dockerfile = """
        FROM debian:bookworm-slim
        # darse: ignore[DF010]
        USER app
        RUN apt-get install -y curl
        """
    assert rule_hits(lint_dockerfile(lint, dockerfile), "DF010") == [(DOCKERFILE, 4, 5)]


def test_a_trailing_ignore_after_an_instruction_docker_reads_itself_is_reported_not_honoured(lint: Lint) -> None:
    """Seen on a public Dockerfile: `ADD a /b  # darse: ignore[DF012]` gives Docker more arguments (the
    destination becomes `ignore[DF012]`), so darse must not pretend the comment silenced anything."""
    result = lint(
        {
            "app/compose.yaml": GOOD_SERVICE,
            "app/README.md": "# app\n",
            "app/CHANGELOG.md": "## 1.0\n",
            "app/Dockerfile": "FROM alpine:3.22\nUSER app\nADD app.conf /etc/app.conf  # darse: ignore[DF012]\n",
        }
    )
    assert rule_hits(result, "DF012") == [("app/Dockerfile", 3, 1)]
    assert rule_hits(result, "RP008") == [("app/Dockerfile", 3, 29)]


def test_a_trailing_ignore_in_a_run_script_is_a_shell_comment_and_honoured(lint: Lint) -> None:  # near miss
    dockerfile = "FROM debian:bookworm-slim\nUSER app\nRUN apt-get install -y curl  # darse: ignore[DF010,DF011]\n"
    result = lint({"app/compose.yaml": GOOD_SERVICE, "app/README.md": "# app\n", "app/Dockerfile": dockerfile})
    assert rule_hits(result, "DF010") == [] and rule_hits(result, "RP008") == []


def test_ignore_comment_is_case_insensitive(lint) -> None:
    result = lint(
        {
            "app/compose.yaml": GOOD_SERVICE,
            "app/README.md": "# app\n",
            "app/Dockerfile": "# DARSE: IGNORE[DF001]\nFROM alpine\nUSER app\n",
        }
    )
    assert rule_hits(result, "DF001") == []


# --- inline ignores: a trailing comment covers its own line, a comment alone the next one -----------


TRAILING = """
services:
  app:
    image: example/app:1.0
    restart: unless-stopped
    init: true
    environment:
      TZ: Europe/Paris  # darse: ignore[DC014]
      DB_PASSWORD: hunter2hunter2
"""


def test_trailing_ignore_does_not_cover_the_next_line(lint: Lint) -> None:
    result = lint({"app/compose.yaml": TRAILING, "app/README.md": "# app\n"})
    assert rule_hits(result, "DC014") == [("app/compose.yaml", 8, 20)]


def test_comment_alone_covers_the_next_line(lint: Lint) -> None:
    compose = TRAILING.replace("      DB_PASSWORD:", "      # darse: ignore[DC014]\n      DB_PASSWORD:")
    result = lint({"app/compose.yaml": compose, "app/README.md": "# app\n"})
    assert rule_hits(result, "DC014") == []
