from __future__ import annotations

from flask import current_app, has_request_context, url_for


def public_url(endpoint: str, **values) -> str:
    """An absolute URL on PUBLIC_URL: links in emails and the API never trust the Host
    header. Works outside a request too (mail workers, CLI); pass lang explicitly there."""
    base = current_app.config["PETITION"].PUBLIC_URL.rstrip("/")
    if has_request_context():
        path = url_for(endpoint, **values)
    else:
        path = current_app.url_map.bind("localhost", url_scheme="https").build(endpoint, values)
    return base + path
