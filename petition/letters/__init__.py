"""Letters: the files under letters/, their validation, sync into the database, share
images. Their public pages are web glue (petition/web/letter_pages.py): they show what
other areas, above this one, hold of a letter."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Load and sync the letter files, and `flask letters`."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load the rest.
    from petition.letters import cli, services

    services.init_app(app)
    app.cli.add_command(cli.letters_cli)


def sync_at_start(app: Flask) -> None:
    """Sync the letter files into the database (services.sync_at_start): after every
    area's init_app, so that each has connected to letters.services.synced."""
    from petition.letters import services

    services.sync_at_start(app)
