"""Delivery bundles: signed PDFs of a letter and its signatories, manifests, receipts."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The bundles' console pages and receipt check, `flask bundle` and `flask keys`."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.bundles import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.bundle_cli)
    app.cli.add_command(cli.keys_cli)
