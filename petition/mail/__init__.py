"""Mail: an outbox written in the caller's transaction, and senders that drain it."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """`flask outbox`, and the in-process senders when configured."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.mail import cli, sender

    app.cli.add_command(cli.outbox_cli)
    sender.init_app(app)
