"""darse.masking: the values of secret files, read under every syntax Compose accepts, are hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.masking import MASK, Masker, masker_for_compose, masker_for_files, secret_values


def _values(text: str) -> set[str]:
    return {entry.value for entry in secret_values(text)}


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("KEY=plainvalue1", "plainvalue1"),
        ("export KEY=exported1", "exported1"),
        ("KEY: colonvalue1", "colonvalue1"),  # Compose accepts YAML-style lines; darse's first reader skipped them
        ("KEY = spaced-value1", "spaced-value1"),
        ('KEY="double quoted1"', "double quoted1"),
        ("KEY='single quoted1'", "single quoted1"),
        ("KEY=commented1 # a comment", "commented1"),
        ('KEY="unterminated1', "unterminated1"),
        ('KEY="esc\\naped1"', "esc\naped1"),
    ],
)
def test_every_syntax_gives_its_value(line: str, value: str) -> None:
    assert value in _values(line + "\n")


def test_a_quoted_value_over_several_lines_gives_each_line_and_the_whole() -> None:
    values = _values('KEY="first-line\nsecond-line\nthird-line"\nOTHER=x\n')
    assert {"first-line\nsecond-line\nthird-line", "second-line", "third-line"} <= values


def test_comments_and_blank_lines_give_nothing() -> None:
    assert _values("# DB_PASSWORD=notavalue\n\n   \n") == set()


def test_long_values_are_hidden_anywhere_short_secret_ones_only_whole() -> None:
    masker = Masker()
    masker.add("DB_PASSWORD", "abc")  # short, but the key looks secret
    masker.add("PORT", "5432")  # short and harmless: stays visible
    masker.add("GREETING", "hello-world")  # not secret-named, but long and from a secret file
    assert masker.text("abc") == MASK
    assert masker.text("port 5432, abcdef") == "port 5432, abcdef"
    assert masker.text("say hello-world now") == f"say {MASK} now"
    assert masker.text("-----BEGIN RSA PRIVATE KEY-----\nMIIE") == MASK


def test_environment_values_of_secret_file_keys_are_masked_in_place() -> None:
    masker = Masker()
    masker.add("PORT", "5432")
    config = {"services": {"db": {"environment": {"PORT": "5432", "API_TOKEN": "x", "MODE": "prod"}}}}
    out = masker.data(config)
    assert out["services"]["db"]["environment"] == {"PORT": MASK, "API_TOKEN": MASK, "MODE": "prod"}
    assert config["services"]["db"]["environment"]["PORT"] == "5432"  # a copy: the input is untouched


def test_masker_for_compose_reads_env_files_secret_files_and_secret_names_of_dotenv(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: x:1.0\n    env_file: [app.env]\n")
    (tmp_path / "app.env").write_text("APP_KEY: base64:from-env-file\n")
    (tmp_path / "db.secrets").write_text("ROOT=from-secrets-file\n")
    (tmp_path / ".env").write_text("DOMAIN=example.org\nSMTP_PASSWORD=from-dotenv\n")
    masker = masker_for_compose(tmp_path / "compose.yaml")
    shown = masker.text("base64:from-env-file from-secrets-file from-dotenv example.org")
    assert shown == f"{MASK} {MASK} {MASK} example.org"


def test_masker_for_compose_hides_secret_values_written_in_environment_itself(tmp_path: Path) -> None:
    """Lint asks to move them to a secrets file; until then, a deploy's stream must not show them."""
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  app:\n    image: x:1.0\n    environment:\n"
        "      DB_PASSWORD: literal-in-the-compose-file\n      MODE: production-mode-setting\n"
        "      API_TOKEN: ${API_TOKEN}\n"
        "  worker:\n    image: x:1.0\n    environment:\n"
        "      - SECRET_KEY=list-form-literal-value\n      - SMTP_PASSWORD\n      - HOSTNAME=worker-host-name\n"
    )
    masker = masker_for_compose(tmp_path / "compose.yaml")
    shown = masker.text("literal-in-the-compose-file list-form-literal-value production-mode-setting ${API_TOKEN}")
    assert shown == f"{MASK} {MASK} production-mode-setting ${{API_TOKEN}}"
    assert "worker-host-name" in masker.text("worker-host-name")


def test_a_password_in_a_url_of_dotenv_is_hidden_whatever_the_name(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: x:1.0\n")
    (tmp_path / ".env").write_text(
        "DATABASE_URL=postgres://wiki:url-held-password-1@db:5432/wiki\nHOME_URL=https://example.org/path\n"
    )
    masker = masker_for_compose(tmp_path / "compose.yaml")
    assert masker.text("auth failed: url-held-password-1 refused") == f"auth failed: {MASK} refused"
    assert masker.text("https://example.org/path") == "https://example.org/path"  # no password: a setting


@pytest.mark.parametrize("kind", ["fifo", "link-to-dev-zero"])
def test_special_files_are_not_read(tmp_path: Path, kind: str) -> None:
    import os

    path = tmp_path / "x.secrets"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    assert masker_for_files([path]).anywhere == set()  # returns at once: nothing was read
