"""darse.toml's `[backup]`: read strictly (a typo is an error naming the key, in one line), and its
repository never shown with the password a URL may carry."""

from __future__ import annotations

import tomllib

import pytest

from darse.config import BackupCommand, BackupDump, mask_repository, parse_config
from darse.errors import DarseError

GOOD = """
[backup]
repository = "rest:https://backup:hunter2-long@backup.example.org:8000/fleet"
password_file = "/etc/darse/restic.password"
keep = { daily = 7, weekly = 4, monthly = 12 }
before_deploy = "always"

[backup.services."apps/wiki"]
exclude = ["cache"]
stop = true
pre = [{ service = "app", command = ["php", "occ", "maintenance:mode", "--on"] }]
post = { service = "app", command = ["php", "occ", "maintenance:mode", "--off"] }
check = { service = "db", command = ["psql", "-c", "select 1"] }
dump = [{ service = "db", kind = "postgres" }, { service = "search", kind = "none" }]
"""


def parse(text: str):
    return parse_config(tomllib.loads(text)).backup


def test_a_full_table_is_read() -> None:
    backup = parse(GOOD)
    assert backup.configured and backup.before_deploy == "always"
    assert backup.keep == {"daily": 7, "weekly": 4, "monthly": 12}
    wiki = backup.for_folder("apps/wiki")
    assert wiki.exclude == ("cache",) and wiki.stop is True
    assert wiki.pre == (BackupCommand("app", ("php", "occ", "maintenance:mode", "--on")),)
    assert wiki.post == (BackupCommand("app", ("php", "occ", "maintenance:mode", "--off")),)
    assert wiki.check == BackupCommand("db", ("psql", "-c", "select 1"))
    assert wiki.dumps == (BackupDump("db", "postgres"), BackupDump("search", "none"))
    assert backup.for_folder("other").exclude == ()


def test_without_the_table_nothing_is_configured() -> None:
    backup = parse('domain = "example.org"\n')
    assert not backup.configured and backup.before_deploy == "on-image-change" and backup.services == {}
    assert not parse("[backup]\nkeep = { daily = 3 }\n").configured  # a table without a repository


def test_the_repository_is_masked_in_its_representation_and_when_shown() -> None:
    backup = parse(GOOD)
    assert "hunter2-long" not in repr(backup)
    assert backup.shown_repository == "rest:https://backup:****@backup.example.org:8000/fleet"


@pytest.mark.parametrize(
    ("repository", "shown"),
    [
        ("/srv/restic", "/srv/restic"),
        ("sftp:backup@host.example.org:/srv/restic", "sftp:backup@host.example.org:/srv/restic"),
        ("rest:https://u:p@ss:w0rd@host/", "rest:https://u:****@host/"),
        (
            "s3:https://s3.example.org/bucket?access_token=abcdef&region=eu",
            "s3:https://s3.example.org/bucket?access_token=****&region=eu",
        ),
        ("rest:http://user@host:8000/", "rest:http://user@host:8000/"),
    ],
)
def test_mask_repository(repository: str, shown: str) -> None:
    assert mask_repository(repository) == shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("backup = 3\n", "[backup] must be a table"),
        ("[backup]\nrepo = '/srv'\n", "unknown key 'repo'"),
        ("[backup]\nrepository = 7\n", "repository must be a string"),
        ("[backup]\nrepository = ''\n", "repository is not a restic repository"),
        ('[backup]\nrepository = "/srv\\nrm -rf /"\n', "repository is not a restic repository"),
        ("[backup]\nkeep = 7\n", "keep must be a table"),
        ("[backup]\nkeep = { dayly = 7 }\n", "unknown key 'dayly'"),
        ("[backup]\nkeep = { daily = '7' }\n", "keep.daily must be a whole number"),
        ("[backup]\nkeep = { daily = true }\n", "keep.daily must be a whole number"),
        ("[backup]\nkeep = { daily = -1 }\n", "keep.daily must be a whole number"),
        ("[backup]\nbefore_deploy = 'sometimes'\n", "before_deploy is 'sometimes'"),
        ("[backup]\npassword_file = 3\n", "password_file must be a string"),
        ("[backup.services.wiki]\nexlude = ['x']\n", "unknown key 'exlude'"),
        ("[backup.services.wiki]\nexclude = 'cache'\n", "exclude must be a list"),
        ("[backup.services.wiki]\nstop = 'yes'\n", "stop must be true or false"),
        ("[backup.services.wiki]\npre = ['php occ']\n", "pre must be a table"),
        ("[backup.services.wiki]\npre = { service = 'app', command = 'php occ' }\n", "pre.command must be a list"),
        ("[backup.services.wiki]\npre = { service = 'app', command = [] }\n", "pre.command must be a list"),
        ("[backup.services.wiki]\npre = { command = ['x'] }\n", "service '' is not a Compose service name"),
        ("[backup.services.wiki]\npre = { service = 'a b', command = ['x'] }\n", "is not a Compose service name"),
        ("[backup.services.wiki]\npre = { service = 'a', command = ['x'], user = 'root' }\n", "unknown key 'user'"),
        (
            "[backup.services.wiki]\ncheck = [{ service = 'a', command = ['x'] }, { service = 'b', command = ['']}]\n",
            "check is one command",
        ),
        ("[backup.services.wiki]\ndump = { service = 'db', kind = 'oracle' }\n", "dump kind is 'oracle'"),
        ("[backup.services.wiki]\ndump = { service = 'db' }\n", "dump kind is ''"),
        ("[backup.services]\nwiki = 3\n", "must be a table"),
    ],
)
def test_a_bad_table_is_one_line_with_a_hint(text: str, message: str) -> None:
    with pytest.raises(DarseError) as caught:
        parse(text)
    assert message in caught.value.message
    assert "\n" not in caught.value.one_line() and caught.value.hint


def test_an_error_never_quotes_the_repository() -> None:
    with pytest.raises(DarseError) as caught:
        parse('[backup]\nrepository = "rest:https://u:hunter2-long@host/\\u0007"\n')
    assert "hunter2" not in caught.value.one_line()
