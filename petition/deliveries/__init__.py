"""Deliveries: one record per addressee, a public hash-chained log, the company's side."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The deliveries' console, company and public log pages, and `flask deliveries`."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.deliveries import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.deliveries_cli)
