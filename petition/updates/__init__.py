"""Updates to the signers who asked for them: a lead's update (written on a console page),
the deliveries' notices and the milestone mails, each queued as a job that mails the
opted-in signers in batches, and the unsubscribe pages their one-click links open.

It sits above deliveries and letters, whose events it hears (events.delivery_logged,
events.milestone_reached), and below the console, whose pages use its services; the
areas that announce those events do not import it."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The unsubscribe pages; the subscribers and job handlers that mail signers."""
    # Imported when the app is built, not with the package: its services are imported
    # alone (by the console) and must not load its pages; the subscribers and handlers
    # must exist whichever areas' modules were imported first.
    from petition.updates import delivery_notices, milestones, views  # noqa: F401

    app.register_blueprint(views.bp)
