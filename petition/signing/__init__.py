"""Individual signatures: the form, email verification, withdrawal, counts, public list."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The signing pages, the withdraw-with-a-code pages and `flask signatures`."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.signing import cli, views, withdraw_code_views

    app.register_blueprint(views.bp)
    app.register_blueprint(withdraw_code_views.bp)
    app.cli.add_command(cli.signatures_cli)
