"""The lead pages' gate, shared by every blueprint with lead pages (console, bundles,
deliveries, paper, the privacy desk)."""
from __future__ import annotations

import time
from collections.abc import Collection

from flask import Blueprint, current_app, redirect, request, session, url_for
from flask_login import current_user, logout_user

from petition.security.headers import mark_sensitive

# Set by the console's login once the TOTP step has passed.
AUTH_AT = "console_auth_at"


def console_gate(public_endpoints: Collection[str]):
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


def guard_console_pages(bp: Blueprint, *, public: Collection[str] = frozenset(),
                        indexed: Collection[str] = frozenset()) -> None:
    """Put bp's pages behind console_gate, but for the endpoints in `public` (a
    company's link, the receipt check), and ask search engines to index none of its
    answers but those of `indexed` (the public delivery log)."""
    @bp.before_request
    def _guard():
        return console_gate(public)

    @bp.after_request
    def _noindex(response):
        if request.endpoint not in indexed:
            response.headers["X-Robots-Tag"] = "noindex, nofollow"
        return response
