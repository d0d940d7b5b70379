"""The library's entry points: every capability of darse, one call each, for every interface.

The CLI and the dashboard call these and only render what comes back: result objects whose
`to_dict()` is the command's `--json` output, progress reported as `darse.progress` events to a
`listener`, user mistakes raised as `DarseError`. Each name is imported from its module on first use,
so that `darse up` does not pay for the registry, inspect and Swarm code (see ENTRY_POINTS).

    from darse import api
    report = api.lint([], Path.cwd())              # LintReport
    ctx = api.open_deployments(Path.cwd())         # DeployContext: repository, history, engines
    outcome = api.up(ctx, ["wiki"], listener=print)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name → (module, attribute), grouped by capability, in the order of the README's commands.
ENTRY_POINTS: dict[str, tuple[str, str]] = {
    # lint: the services guide on Dockerfiles, Compose files and the layout
    "lint": ("darse.lint.commands", "lint"),
    "rules": ("darse.lint.commands", "rules"),
    "rule": ("darse.lint.commands", "rule"),
    # secrets: real secret files from committed examples, kept out of Git
    "plan_secrets": ("darse.secrets.commands", "plan"),
    "check_secrets": ("darse.secrets.commands", "check"),
    "diff_secrets": ("darse.secrets.commands", "diff"),
    # new: a lint-clean service folder
    "new_service": ("darse.scaffold", "new_service"),
    # the repository around a folder, for the calls that take one
    "open_repository": ("darse.model.repository", "repository_around"),
    # deploy: on Compose or a Swarm, as darse.toml targets each service
    "open_deployments": ("darse.deploy.context", "open_deployments"),
    "up": ("darse.deploy.commands", "up"),
    "rollback": ("darse.deploy.commands", "rollback"),
    "down": ("darse.deploy.commands", "down"),
    "status": ("darse.deploy.commands", "status"),
    "history": ("darse.deploy.commands", "history"),
    "diff": ("darse.deploy.commands", "diff"),
    "logs": ("darse.deploy.commands", "logs"),
    # the dashboard's actions: what each would change, shown before it is confirmed; restart
    "plan_deploy": ("darse.deploy.commands", "plan_deploy"),
    "plan_rollback": ("darse.deploy.commands", "plan_rollback"),
    "plan_down": ("darse.deploy.commands", "plan_down"),
    "restart": ("darse.deploy.commands", "restart"),
    # pull: the commits a fast-forward of the checkout to its upstream would bring, and doing it
    "plan_pull": ("darse.deploy.pull", "plan_pull"),
    "pull": ("darse.deploy.pull", "pull"),
    "recent_pulls": ("darse.deploy.pull", "recent_pulls"),
    # stack: what only a Swarm does (scale, the Swarm's own rollback, stack status)
    "stack_deploy": ("darse.deploy.swarm.commands", "deploy"),
    "stack_status": ("darse.deploy.swarm.commands", "status"),
    "stack_scale": ("darse.deploy.swarm.scale", "scale"),
    "plan_stack_scale": ("darse.deploy.swarm.scale", "plan_scale"),
    "check_replicas": ("darse.deploy.swarm.scale", "check_replicas"),
    "stack_rollback": ("darse.deploy.swarm.commands", "rollback"),
    "stack_remove": ("darse.deploy.swarm.commands", "remove"),
    # node: a Swarm's nodes and their maintenance
    "list_nodes": ("darse.deploy.swarm.nodes", "list_nodes"),
    "drain_node": ("darse.deploy.swarm.nodes", "drain"),
    "activate_node": ("darse.deploy.swarm.nodes", "activate"),
    "promote_node": ("darse.deploy.swarm.nodes", "promote"),
    "demote_node": ("darse.deploy.swarm.nodes", "demote"),
    # images: build, push, the private registry, inspect
    "build": ("darse.images.build", "build_services"),
    "push": ("darse.images.push", "push_services"),
    "locate_registry_users": ("darse.images.registry.commands", "locate_htpasswd"),
    "check_registry_user_name": ("darse.images.registry.commands", "check_username"),
    "restart_registry": ("darse.images.registry.commands", "restart_registry"),
    "split_tag_reference": ("darse.images.registry.commands", "split_tag_reference"),
    "add_registry_user": ("darse.images.registry.commands", "add_user"),
    "remove_registry_user": ("darse.images.registry.commands", "remove_user"),
    "list_registry_users": ("darse.images.registry.commands", "list_users"),
    "init_registry": ("darse.images.registry.commands", "init_registry"),
    "open_registry": ("darse.images.registry.commands", "open_registry"),
    "list_registry": ("darse.images.registry.commands", "list_registry"),
    "plan_registry_removal": ("darse.images.registry.commands", "plan_removal"),
    "remove_from_registry": ("darse.images.registry.commands", "remove"),
    "collect_registry_garbage": ("darse.images.registry.commands", "collect_garbage"),
    "inspect": ("darse.images.inspect.commands", "inspect_report"),
    "inspect_thresholds": ("darse.images.inspect.commands", "thresholds"),
    "extract_file": ("darse.images.inspect.commands", "extract_file"),
    "list_files": ("darse.images.inspect.commands", "list_files"),
    # dashboard: what `darse serve` shows (read-only views of the fleet and of one service)
    "fleet": ("darse.dashboard.fleet", "fleet"),
    "service_view": ("darse.dashboard.fleet", "service_view"),
    "service_images": ("darse.dashboard.images", "service_images"),
    "service_image_report": ("darse.dashboard.images", "image_report"),
    "registry_view": ("darse.dashboard.images", "registry_view"),
    "follow_logs": ("darse.dashboard.logs", "follow_logs"),
    "swarm_view": ("darse.dashboard.swarm", "swarm_view"),
    "follow_swarm": ("darse.dashboard.swarm", "follow_swarm"),
    # serve: the dashboard's users (bcrypt hashes and roles) and its session key
    "dashboard_users_file": ("darse.dashboard.users", "default_users_file"),
    "dashboard_session_key": ("darse.dashboard.users", "session_key"),
    "check_dashboard_user_name": ("darse.dashboard.users", "check_name"),
    "check_dashboard_password": ("darse.dashboard.users", "check_account"),
    "add_dashboard_user": ("darse.dashboard.users", "add_user"),
    "remove_dashboard_user": ("darse.dashboard.users", "remove_user"),
    "set_dashboard_user_role": ("darse.dashboard.users", "set_role"),
    "list_dashboard_users": ("darse.dashboard.users", "list_users"),
    "verify_dashboard_user": ("darse.dashboard.users", "verify"),
    # serve init: a service folder that runs the dashboard itself behind Traefik
    "init_serve_folder": ("darse.scaffold.serve_folder", "init_serve_folder"),
    # certs: Traefik's certificates handed to the services that are not web services
    "sync_certificates": ("darse.certs.sync", "sync_certificates"),
    "watch_certificates": ("darse.certs.watch", "watch_certificates"),
    "stamped_log": ("darse.certs.watch", "stamped"),
    "certificate_status": ("darse.certs.status", "certificate_status"),
    # certs init: a service folder that runs the certificate watcher
    "init_certs_folder": ("darse.scaffold.certs_folder", "init_certs_folder"),
    # restore --verify: a backup restored into a throwaway copy of its folder, checked, then removed
    "verify_backup": ("darse.backup.verify", "verify_backup"),
    # backup: what a backup of each service folder takes (volumes, databases' dumps)
    "backup_plan": ("darse.backup.plan", "backup_plan"),
    "init_backups": ("darse.backup.run", "init_backups"),
    "run_backups": ("darse.backup.run", "run_backups"),
    "list_backups": ("darse.backup.run", "list_backups"),
    # rollback --with-data: a deployment brought back with the backup taken before the ones it undoes
    "plan_rollback_with_data": ("darse.deploy.with_data", "plan_rollback_with_data"),
    "rollback_with_data": ("darse.deploy.with_data", "rollback_with_data"),
    # backup history and prune: the records of a folder's backups; keep rules applied
    "backup_history": ("darse.backup.run", "backup_history"),
    "prune_backups": ("darse.backup.prune", "prune_backups"),
    # restore: a folder's data put back from a backup run
    "preview_restore": ("darse.backup.restore", "preview_restore"),
    "restore_backup": ("darse.backup.restore", "restore_backup"),
    # tunnel: a local port to a container nobody publishes, on the local engine or an ssh:// host
    "tunnel_plan": ("darse.tunnel.locate", "tunnel_plan"),
    "tunnel_plans": ("darse.tunnel.locate", "tunnel_plans"),
    "run_tunnels": ("darse.tunnel.run", "run_tunnels"),
    "begin_tunnel_logins": ("darse.tunnel.early", "begin_logins"),
    "start_background": ("darse.tunnel.run", "start_background"),
    "list_tunnels": ("darse.tunnel.run", "list_tunnels"),
    "stop_tunnels": ("darse.tunnel.run", "stop_tunnels"),
}
__all__ = sorted(ENTRY_POINTS)

if TYPE_CHECKING:  # what readers and type checkers see; at run time each name loads on first use
    from darse.backup.plan import backup_plan  # noqa: F401
    from darse.backup.prune import prune_backups  # noqa: F401
    from darse.backup.restore import preview_restore, restore_backup  # noqa: F401
    from darse.backup.run import (  # noqa: F401
        backup_history,
        init_backups,
        list_backups,
        run_backups,
    )
    from darse.backup.verify import verify_backup  # noqa: F401
    from darse.certs.status import certificate_status  # noqa: F401
    from darse.certs.sync import sync_certificates  # noqa: F401
    from darse.certs.watch import stamped as stamped_log  # noqa: F401
    from darse.certs.watch import watch_certificates  # noqa: F401
    from darse.dashboard.fleet import (
        fleet,  # noqa: F401
        service_view,  # noqa: F401
    )
    from darse.dashboard.images import image_report as service_image_report  # noqa: F401
    from darse.dashboard.images import (
        registry_view,  # noqa: F401
        service_images,  # noqa: F401
    )
    from darse.dashboard.logs import follow_logs  # noqa: F401
    from darse.dashboard.swarm import (
        follow_swarm,  # noqa: F401
        swarm_view,  # noqa: F401
    )
    from darse.dashboard.users import add_user as add_dashboard_user  # noqa: F401
    from darse.dashboard.users import check_account as check_dashboard_password  # noqa: F401
    from darse.dashboard.users import check_name as check_dashboard_user_name  # noqa: F401
    from darse.dashboard.users import default_users_file as dashboard_users_file  # noqa: F401
    from darse.dashboard.users import list_users as list_dashboard_users  # noqa: F401
    from darse.dashboard.users import remove_user as remove_dashboard_user  # noqa: F401
    from darse.dashboard.users import session_key as dashboard_session_key  # noqa: F401
    from darse.dashboard.users import set_role as set_dashboard_user_role  # noqa: F401
    from darse.dashboard.users import verify as verify_dashboard_user  # noqa: F401
    from darse.deploy.commands import (
        diff,  # noqa: F401
        down,  # noqa: F401
        history,  # noqa: F401
        logs,  # noqa: F401
        plan_deploy,  # noqa: F401
        plan_down,  # noqa: F401
        plan_rollback,  # noqa: F401
        restart,  # noqa: F401
        rollback,  # noqa: F401
        status,  # noqa: F401
        up,  # noqa: F401
    )
    from darse.deploy.context import open_deployments  # noqa: F401
    from darse.deploy.pull import (
        plan_pull,  # noqa: F401
        pull,  # noqa: F401
        recent_pulls,  # noqa: F401
    )
    from darse.deploy.swarm.commands import deploy as stack_deploy  # noqa: F401
    from darse.deploy.swarm.commands import remove as stack_remove  # noqa: F401
    from darse.deploy.swarm.commands import rollback as stack_rollback  # noqa: F401
    from darse.deploy.swarm.commands import status as stack_status  # noqa: F401
    from darse.deploy.swarm.nodes import activate as activate_node  # noqa: F401
    from darse.deploy.swarm.nodes import demote as demote_node  # noqa: F401
    from darse.deploy.swarm.nodes import drain as drain_node  # noqa: F401
    from darse.deploy.swarm.nodes import list_nodes  # noqa: F401
    from darse.deploy.swarm.nodes import promote as promote_node  # noqa: F401
    from darse.deploy.swarm.scale import check_replicas  # noqa: F401
    from darse.deploy.swarm.scale import plan_scale as plan_stack_scale  # noqa: F401
    from darse.deploy.swarm.scale import scale as stack_scale  # noqa: F401
    from darse.deploy.with_data import plan_rollback_with_data, rollback_with_data  # noqa: F401
    from darse.images.build import build_services as build  # noqa: F401
    from darse.images.inspect.commands import (
        extract_file,  # noqa: F401
        list_files,  # noqa: F401
    )
    from darse.images.inspect.commands import inspect_report as inspect  # noqa: F401
    from darse.images.inspect.commands import thresholds as inspect_thresholds  # noqa: F401
    from darse.images.push import push_services as push  # noqa: F401
    from darse.images.registry.commands import add_user as add_registry_user  # noqa: F401
    from darse.images.registry.commands import check_username as check_registry_user_name  # noqa: F401
    from darse.images.registry.commands import collect_garbage as collect_registry_garbage  # noqa: F401
    from darse.images.registry.commands import (
        init_registry,  # noqa: F401
        list_registry,  # noqa: F401
        open_registry,  # noqa: F401
        restart_registry,  # noqa: F401
        split_tag_reference,  # noqa: F401
    )
    from darse.images.registry.commands import list_users as list_registry_users  # noqa: F401
    from darse.images.registry.commands import locate_htpasswd as locate_registry_users  # noqa: F401
    from darse.images.registry.commands import plan_removal as plan_registry_removal  # noqa: F401
    from darse.images.registry.commands import remove as remove_from_registry  # noqa: F401
    from darse.images.registry.commands import remove_user as remove_registry_user  # noqa: F401
    from darse.lint.commands import (
        lint,  # noqa: F401
        rule,  # noqa: F401
        rules,  # noqa: F401
    )
    from darse.model.repository import repository_around as open_repository  # noqa: F401
    from darse.scaffold import new_service  # noqa: F401
    from darse.scaffold.certs_folder import init_certs_folder  # noqa: F401
    from darse.scaffold.serve_folder import init_serve_folder  # noqa: F401
    from darse.secrets.commands import check as check_secrets  # noqa: F401
    from darse.secrets.commands import diff as diff_secrets  # noqa: F401
    from darse.secrets.commands import plan as plan_secrets  # noqa: F401
    from darse.tunnel.early import begin_logins as begin_tunnel_logins  # noqa: F401
    from darse.tunnel.locate import tunnel_plan, tunnel_plans  # noqa: F401
    from darse.tunnel.run import list_tunnels, run_tunnels, start_background, stop_tunnels  # noqa: F401


def __getattr__(name: str) -> Any:
    if name not in ENTRY_POINTS:
        raise AttributeError(f"module 'darse.api' has no attribute {name!r}")
    module, attribute = ENTRY_POINTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # the next use is a plain attribute
    return value
