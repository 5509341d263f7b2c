"""Mail: messages built by the areas (services), written (mime), queued in the caller's
transaction (outbox) and sent by the outbox worker (worker) through a sender backend
(transport: SMTP, or console and files)."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """`flask outbox`, and the in-process outbox worker when configured."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.mail import cli, worker

    app.cli.add_command(cli.outbox_cli)
    worker.init_app(app)
