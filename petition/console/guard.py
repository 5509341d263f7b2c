"""The console's gate, shared by every blueprint with console pages (console, bundles)."""
from __future__ import annotations

import time

from flask import current_app, redirect, request, session, url_for
from flask_login import current_user, logout_user

from petition.security.headers import mark_sensitive

# Set by the console's login once the TOTP step has passed.
AUTH_AT = "console_auth_at"


def console_gate(public_endpoints: set[str]):
    """Run before each request of a console blueprint: pages are never cached, and
    outside public_endpoints a signed-in user whose session is younger than
    SESSION_HOURS is required. Returns a response to send instead, or None."""
    mark_sensitive()
    if request.endpoint in public_endpoints:
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    started = session.get(AUTH_AT)
    hours = current_app.config["PETITION"].SESSION_HOURS
    if not isinstance(started, (int, float)) or time.time() - started > hours * 3600:
        # Absolute expiry: however active, a console session ends after SESSION_HOURS.
        logout_user()
        session.clear()
        return redirect(url_for("console.login"))
    return None
