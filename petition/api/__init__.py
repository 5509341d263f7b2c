"""Read-only JSON API. Never returns personal data."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """/api/v1."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.api import views

    app.register_blueprint(views.bp)
