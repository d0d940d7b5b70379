"""Backups of every service's data (docs/backup.md): `plan` knows what to back up from the repository
and darse.toml, `dumps` how each kind of database gives a consistent dump of itself."""
