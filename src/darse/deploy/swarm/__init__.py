"""Swarm targets: service folders deployed with `docker stack deploy`, waited for and rolled back honestly.

Where Swarm lives:

- here, `darse.deploy.swarm`, the library: `select` (which services target a Swarm, `wiki/web`), `commands`
  (the `darse stack` operations), `scale` (one service's replicas, locked and recorded), `deploy` (up,
  rollback and down of one service, recorded in the history), `stack` (prepare, run and report a stack),
  `stackfile` (the document for `docker stack deploy`) and `converge` (waiting for a rollout and judging it);
- `darse.engine.swarm`, the only code that talks to a Swarm manager (like all of `darse.engine`, the
  only code that talks to Docker);
- `darse.lint.rules.swarm`, the lint rules for Compose files deployed to a Swarm;
- `darse.dashboard.swarm`, what the dashboard's Swarm page shows (nodes, services, rolling updates);
- `darse.cli.stack`, the `darse stack` commands (`darse up`, `rollback`, `down` reach the Swarm
  through `darse.deploy.commands`).
"""
