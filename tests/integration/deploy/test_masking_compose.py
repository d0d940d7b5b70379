"""Masking against Compose itself: env files written in every syntax Compose accepts (and some it
refuses) are read by the real `docker compose config`; whatever it prints, config or error, passes
through darse's masking as `darse diff` and `darse up` pass it, and no planted value survives."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from darse.engine.compose import ComposeRunner
from darse.errors import DarseError
from darse.masking import masker_for_compose

KEYS = ["DB_PASSWORD", "API_TOKEN", "GREETING", "SITE_NAME", "X1", "lower_key"]
_token = st.text(alphabet="abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=8, max_size=14)


@st.composite
def env_line(draw) -> tuple[str, list[str]]:
    """One entry of an env file in one of the syntaxes, and the planted values it holds."""
    key = draw(st.sampled_from(KEYS))
    first, second = "v" + draw(_token), "w" + draw(_token)
    form = draw(
        st.sampled_from(
            [
                "{k}={a}",
                "export {k}={a}",
                "{k}: {a}",
                "{k} = {a}",
                '{k}="{a}"',
                "{k}='{a}'",
                "{k}={a} # note",
                '{k}="{a} {b}"',
                '{k}="{a}\n{b}"',  # a quoted value over two lines
                "{k}='{a}\n{b}'",
                '{k}="{a}\\n{b}"',  # an escaped newline
                '{k}="{a}',  # unterminated: Compose refuses the file, and its error quotes the line
                "{k}='{a}",
                "{k}={a}\\",
            ]
        )
    )
    text = form.format(k=key, a=first, b=second)
    planted = [first] + ([second] if "{b}" in form else [])
    return text, planted


def _compose_config(folder: Path) -> tuple[int, str, str]:
    runner = ComposeRunner("masking-test")
    proc = subprocess.run(
        [*runner._base(), "--file", str(folder / "compose.yaml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(env_line(), min_size=1, max_size=5))
def test_no_value_compose_reads_survives_masking(tmp_path_factory, lines) -> None:
    folder = tmp_path_factory.mktemp("svc")
    (folder / "compose.yaml").write_text(
        "services:\n  app:\n    image: darse-test/none:1.0\n    env_file: [app.secrets]\n"
    )
    (folder / "app.secrets").write_text("\n".join(text for text, _ in lines) + "\n")
    planted = [value for _, values in lines for value in values]
    masker = masker_for_compose(folder / "compose.yaml")
    code, out, err = _compose_config(folder)
    if code == 0:
        shown = json.dumps(masker.data(json.loads(out)))
        raw = out
    else:
        shown = masker.text(out + err)
        raw = out + err
    for value in planted:
        assert value not in shown, f"{value!r} shown after masking"
    assert any(value in raw for value in planted) or code != 0 or "environment" not in out  # Compose read them


def test_compose_errors_quoting_a_secret_line_are_masked_in_darse_errors(tmp_path: Path) -> None:
    """The case seen: an unterminated quote makes Compose fail with an error that quotes the value."""
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: x:1.0\n    env_file: [db.secrets]\n")
    (tmp_path / "db.secrets").write_text('DB_PASSWORD="Unterminated-Secret-42\nOTHER=1\n')
    masker = masker_for_compose(tmp_path / "compose.yaml")
    runner = ComposeRunner("masking-test", mask=masker.text)
    try:
        runner.config(tmp_path / "compose.yaml")
    except DarseError as exc:
        assert "Unterminated-Secret-42" not in exc.one_line()
        assert "compose cannot read" in exc.one_line()
    else:
        raise AssertionError("Compose accepted an unterminated quote")
