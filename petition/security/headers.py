"""Security headers on every response; the app sends them itself, with no proxy to lean on."""
from __future__ import annotations

from flask import Flask, abort, request

CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
])


SENSITIVE_KEY = "petition.sensitive"


def mark_sensitive() -> None:
    """Call from a view whose page shows or collects personal data: never cached.

    Kept on the request itself, not on flask.g: g belongs to the app context, which an
    outer context (a CLI command, a test) can share across several requests."""
    request.environ[SENSITIVE_KEY] = True


def is_sensitive() -> bool:
    return bool(request.environ.get(SENSITIVE_KEY))


def nul_status(req) -> int | None:
    """404 for a NUL character in the path (no page has such an address), 400 in the
    query string. NUL has no use on this site and PostgreSQL refuses it in text, so it
    would otherwise turn a hostile slug into a 500 (found by tests/hostile on
    PostgreSQL). Form fields are left to their validators, which give field errors."""
    if "\x00" in req.path:
        return 404
    for key, values in req.args.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return 400
    return None


def init_app(app: Flask) -> None:
    production = app.config["PETITION"].is_production

    @app.before_request
    def _refuse_nul():
        status = nul_status(request)
        if status:
            abort(status)

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        # same-origin unless a view says another site may show it (the badge, the share image)
        headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        if production:
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        if is_sensitive() or request.method != "GET" or "Set-Cookie" in headers:
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        elif "Cache-Control" not in headers and response.mimetype == "text/html":
            headers["Cache-Control"] = "no-cache"
        if "Vary" not in headers or "Cookie" not in headers["Vary"]:
            headers.add("Vary", "Cookie")
        return response
