"""Organisations co-signing letters: form, confirmation, approval by a campaign lead."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The organisations' co-signing pages."""
    # Imported when the app is built, not with the package: its models and services are
    # imported alone (by other areas, migrations, the CLI) and must not load its pages.
    from petition.organisations import views

    app.register_blueprint(views.bp)
