"""`darse serve`: the fleet in a browser, an interface like `cli/`.

Routes parse the request, call `darse.api` (or the dashboard's view models in `darse.dashboard`) and
render a template; actions run the same library calls as the CLI, their progress streamed as
Server-Sent Events. Nothing here decides anything the command line would decide differently.

- `app.py`: the Starlette application, its settings and middleware;
- `auth.py`: sign-in, sessions, roles (viewer, operator), CSRF, rate limiting;
- `pages.py`: the fleet and a service (read-only pages);
- `actions.py`: deploy, roll back, restart, down, with confirmation and live progress;
- `templates/`, `static/` (vendored htmx, see `static/vendor/README.md`).
"""
