"""A services repository for `darse serve init`: one service with a relative bind mount (the reason the
dashboard's container mounts the checkout at its own path)."""

from __future__ import annotations

from pathlib import Path

from helpers.repo import git_init, write_tree


def serve_repository(root: Path, config: str) -> Path:
    """`root` with `config` as darse.toml and the service `web`, committed."""
    write_tree(
        root,
        {
            "darse.toml": config,
            "README.md": "# services\n",
            "web/compose.yaml": """\
                services:
                  web:
                    image: example/web:1.2.3
                    restart: unless-stopped
                    init: true
                    volumes:
                      - ./site:/srv/site:ro
                """,
            "web/site/index.html": "hello\n",
            "web/README.md": "# web\n",
        },
    )
    git_init(root)
    return root
