"""The campaign leads' console: login with TOTP, per-letter dashboards, moderation, audit."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The leads' login (sessions, user loader), the console, the privacy desk and
    `flask users`."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.console import auth, cli, privacy_desk, views

    auth.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(privacy_desk.bp)
    app.cli.add_command(cli.users_cli)
