"""Flask-Login wiring. The session cookie holds only "user id:session version"."""
from __future__ import annotations

from petition.console.models import User
from petition.extensions import db, login_manager


@login_manager.user_loader
def load_user(identifier: str) -> User | None:
    try:
        user_id, version = (int(part) for part in identifier.split(":", 1))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user
