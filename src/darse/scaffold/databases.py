"""The databases `darse new --db` knows: image, data directory, health check and the linked secrets.

Each database reads its password from its own secret file, the application from its own; both
examples write `@generate:db-password`, so `darse secrets init` gives them the same random value.
"""

from __future__ import annotations

from dataclasses import dataclass

LINK = "@generate:db-password"


@dataclass(frozen=True)
class Database:
    kind: str  # the --db value
    title: str
    image: str
    data_dir: str
    port: int
    # (key, value) lines of the database's example secret file; `{name}` is the service's name
    secrets: tuple[tuple[str, str], ...]
    healthcheck: str  # the `test:` list, as YAML flow text
    # the application side: non-secret environment (host, port) and example secrets
    app_environment: tuple[tuple[str, str], ...]
    app_secrets: tuple[tuple[str, str], ...]
    command: str | None = None  # YAML flow text, when the image needs one to read its password


_SQL_APP = (("DB_NAME", "{name}"), ("DB_USER", "{name}"), ("DB_PASSWORD", LINK))

DATABASES: dict[str, Database] = {
    "postgres": Database(
        "postgres",
        "PostgreSQL",
        "postgres:16.4-alpine",
        "/var/lib/postgresql/data",
        5432,
        (("POSTGRES_DB", "{name}"), ("POSTGRES_USER", "{name}"), ("POSTGRES_PASSWORD", LINK)),
        '["CMD-SHELL", "pg_isready -U \\"$$POSTGRES_USER\\" -d \\"$$POSTGRES_DB\\""]',
        (("DB_HOST", "{db}"), ("DB_PORT", "5432")),
        _SQL_APP,
    ),
    "mariadb": Database(
        "mariadb",
        "MariaDB",
        "mariadb:11.4",
        "/var/lib/mysql",
        3306,
        (
            ("MARIADB_DATABASE", "{name}"),
            ("MARIADB_USER", "{name}"),
            ("MARIADB_PASSWORD", LINK),
            ("MARIADB_ROOT_PASSWORD", "@generate"),
        ),
        '["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]',
        (("DB_HOST", "{db}"), ("DB_PORT", "3306")),
        _SQL_APP,
    ),
    "mysql": Database(
        "mysql",
        "MySQL",
        "mysql:8.4",
        "/var/lib/mysql",
        3306,
        (
            ("MYSQL_DATABASE", "{name}"),
            ("MYSQL_USER", "{name}"),
            ("MYSQL_PASSWORD", LINK),
            ("MYSQL_ROOT_PASSWORD", "@generate"),
        ),
        '["CMD-SHELL", "mysqladmin ping -h 127.0.0.1 --silent"]',
        (("DB_HOST", "{db}"), ("DB_PORT", "3306")),
        _SQL_APP,
    ),
    "mongo": Database(
        "mongo",
        "MongoDB",
        "mongo:7.0",
        "/data/db",
        27017,
        (
            ("MONGO_INITDB_DATABASE", "{name}"),
            ("MONGO_INITDB_ROOT_USERNAME", "{name}"),
            ("MONGO_INITDB_ROOT_PASSWORD", LINK),
        ),
        """["CMD", "mongosh", "--quiet", "--eval", "db.adminCommand('ping')"]""",
        (("DB_HOST", "{db}"), ("DB_PORT", "27017")),
        _SQL_APP,
    ),
    "redis": Database(
        "redis",
        "Redis",
        "redis:7.4-alpine",
        "/data",
        6379,
        (("REDIS_PASSWORD", LINK),),
        '["CMD-SHELL", "redis-cli --no-auth-warning -a \\"$$REDIS_PASSWORD\\" ping | grep -q PONG"]',
        (("REDIS_HOST", "{db}"), ("REDIS_PORT", "6379")),
        (("REDIS_PASSWORD", LINK),),
        # the image reads no password variable: the server gets it on its command line
        '["sh", "-c", "exec redis-server --appendonly yes --requirepass \\"$$REDIS_PASSWORD\\""]',
    ),
}
