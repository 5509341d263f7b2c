"""The open-letters platform: create_app() builds one configured application."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from petition.config import Config


def create_app(config: Config | None = None) -> Flask:
    # petition.app on call, not at the top: every petition.* import runs this file first,
    # and gunicorn's master (its config imports petition.redaction) need not load Flask,
    # SQLAlchemy and Alembic for it (python -X importtime: 4 to 5 s against 0.1 s on a busy machine).
    from petition.app import create_app as build

    return build(config)


logging.getLogger("petition").addHandler(logging.NullHandler())
