"""Letters: the files under letters/, their validation, sync into the database, public pages."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Load and sync the letter files, then the public pages and `flask letters`."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.letters import cli, services, views

    services.init_app(app)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.letters_cli)
