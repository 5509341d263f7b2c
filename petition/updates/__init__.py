"""Updates to the signers who asked for them: a lead's update (written on a console page),
the deliveries' notices and the milestone mails, each queued as a job that mails the
opted-in signers in batches, with a one-click unsubscribe.

It sits above deliveries and letters, whose events it hears (events.delivery_logged,
events.milestone_reached), and below the console, whose pages use its services; the
areas that announce those events do not import it."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Subscribe to the events that mail signers and register the jobs that do it."""
    # Imported when the app is built, so that their subscribers and job handlers exist
    # whichever areas' modules were imported first.
    from petition.updates import delivery_notices, milestones, services  # noqa: F401
