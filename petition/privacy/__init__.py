"""Personal data at rest: encryption, keyed hashes, and the purge/export/erase operations."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """`flask privacy` (purge, export, erase)."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.privacy import cli

    app.cli.add_command(cli.privacy_cli)
