"""Signatures collected on paper or offline, imported by a campaign lead from a CSV file."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The paper signatures' console pages."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.paper import views

    app.register_blueprint(views.bp)
