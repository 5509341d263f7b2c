"""Background jobs: long work (bundle builds, update mailings) queued by a request and
run by a worker, never inside the request."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """`flask jobs`, and the in-process job worker when configured."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.jobs import cli, runner

    app.cli.add_command(cli.jobs_cli)
    runner.init_app(app)
