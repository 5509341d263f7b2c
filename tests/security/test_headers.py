"""Security headers on every route of the app: a strict CSP, no referrer, no sniffing,
no caching of pages with personal data, HSTS and secure cookies in production.

The routes come from app.url_map, so a page added later is covered without editing
this file; arguments are filled with plausible values (a real letter, garbage tokens)."""
from __future__ import annotations

import re

import pytest

from petition import create_app
from tests.helpers import LANGS, make_config, reset_database

SLUG = "secure-our-socials"

# Endpoints whose pages show or collect personal data: never stored by any cache.
SENSITIVE_PREFIXES = ("console.", "bundles.console", "bundles.download", "updates.")
SENSITIVE = {
    "signing.sign", "signing.confirm", "signing.withdraw",
    "organisations.sign", "organisations.confirm", "organisations.withdraw",
    "deliveries.receipt",
}


def is_sensitive(endpoint: str) -> bool:
    return endpoint in SENSITIVE or endpoint.startswith(SENSITIVE_PREFIXES)


def argument_values(lang: str) -> dict[str, object]:
    return {
        "lang": lang, "slug": SLUG, "token": "not-a-real-token", "filename": "css/site.css",
        "bundle_id": "00000000-0000-0000-0000-000000000000", "org_id": 1, "sig_id": 1,
        "delivery_id": 1, "user_id": 1, "job_id": 1, "id": 1,
    }


def requests_for(app, lang: str):
    """(endpoint, method, path) for every rule and method of the app."""
    values = argument_values(lang)
    out = []
    for rule in app.url_map.iter_rules():
        args = {name: values.get(name, "x") for name in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            path = url_for(rule.endpoint, **args)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, path))
    return out


def assert_headers(endpoint: str, method: str, response, production: bool) -> None:
    where = f"{method} {endpoint} -> {response.status_code}"
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert csp, where
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert directives.get("default-src") == "default-src 'none'", where
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", where
    assert directives.get("form-action") == "form-action 'self'", where
    assert directives.get("script-src") == "script-src 'self'", where
    assert headers.get("Referrer-Policy") == "no-referrer", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("X-Frame-Options") == "DENY", where
    if production:
        hsts = headers.get("Strict-Transport-Security", "")
        assert "max-age=" in hsts and int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31536000, where
    else:
        assert "Strict-Transport-Security" not in headers, where
    if is_sensitive(endpoint) or method != "GET":
        assert "no-store" in headers.get("Cache-Control", ""), where
    for cookie in headers.getlist("Set-Cookie"):
        lowered = cookie.lower()
        assert "httponly" in lowered, (where, cookie)
        assert "samesite=lax" in lowered or "samesite=strict" in lowered, (where, cookie)
        if production:
            assert "; secure" in lowered, (where, cookie)
    if response.mimetype == "text/html" and not 300 <= response.status_code < 400:
        html = response.get_data(as_text=True)
        # Nothing the CSP would have to allow inline: no inline scripts or styles.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), where
        assert "<style" not in html and not re.search(r"\sstyle=", html), where
        assert not re.search(r"\son[a-z]+=", html), where  # no inline event handlers
        assert re.search(r'id="exit-this-page"[^>]*|href="[^"]*"[^>]*id="exit-this-page"', html), where


def run_every_route(app, production: bool = False, client=None) -> int:
    client = client or app.test_client()
    seen = 0
    base = {"wsgi.url_scheme": "https"} if production else {}
    for lang in ("en", "ar"):
        for endpoint, method, path in requests_for(app, lang):
            response = client.open(path, method=method, environ_base=base)
            if method == "GET" and response.status_code != 405:
                assert response.status_code < 500, (endpoint, path, response.status_code)
            assert_headers(endpoint, method, response, production)
            seen += 1
    return seen


def test_every_route_sends_the_headers(app):
    assert run_every_route(app) > 40


def test_every_route_sends_the_headers_in_production(tmp_path, smtp_server):
    config = make_config(tmp_path, ENV="production", PUBLIC_URL="https://letters.example",
                         MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)
    app = create_app(config)
    reset_database(app)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    run_every_route(app, production=True)


def test_every_route_sends_the_headers_to_a_signed_in_lead(make_app):
    support = pytest.importorskip("tests.console.support")
    app = make_app()
    if "console.login" not in app.view_functions:
        pytest.skip("the console area is not registered")
    account = support.make_user(app, role="admin", slugs=(SLUG,))
    client = support.logged_in(app.test_client(), app, account)
    # Log-out is a route too; leave it for last so the rest are seen signed in.
    run_every_route(app, client=client)


@pytest.mark.parametrize("lang", LANGS)
def test_pages_with_personal_data_are_never_cached(app, lang):
    client = app.test_client()
    for path in (f"/{lang}/letters/{SLUG}/sign", f"/{lang}/confirm/garbage", f"/{lang}/withdraw/garbage"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "no-store", path
    page = app.test_client().get(f"/{lang}/letters/{SLUG}/")  # a visitor without a session
    assert "no-store" not in page.headers.get("Cache-Control", "")


def test_session_cookie_is_httponly_and_samesite(app):
    response = app.test_client().get(f"/en/letters/{SLUG}/sign")
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies, "the sign page sets the CSRF session"
    for cookie in cookies:
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # development and tests run over http


def test_production_session_cookie_is_secure_and_host_prefixed(tmp_path, smtp_server):
    config = make_config(tmp_path, ENV="production", PUBLIC_URL="https://letters.example",
                         MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)
    app = create_app(config)
    reset_database(app)
    response = app.test_client().get(f"/en/letters/{SLUG}/sign", environ_base={"wsgi.url_scheme": "https"})
    [cookie] = response.headers.getlist("Set-Cookie")
    assert cookie.startswith("__Host-session=")
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Domain=" not in cookie


@pytest.mark.parametrize("lang", LANGS)
def test_exit_link_on_every_public_page_works_without_javascript(app, lang):
    client = app.test_client()
    exit_url = app.config["PETITION"].EXIT_URL
    for path in (f"/{lang}/", f"/{lang}/about", f"/{lang}/letters/{SLUG}/", f"/{lang}/letters/{SLUG}/sign",
                 f"/{lang}/confirm/garbage", f"/{lang}/no-such-page"):
        html = client.get(path).text
        match = re.search(r'<a[^>]*id="exit-this-page"[^>]*>', html)
        assert match, path
        tag = match.group(0)
        assert f'href="{exit_url}"' in tag and 'rel="noreferrer"' in tag
        # The first thing on the page after the skip link, before the header.
        assert html.index('id="exit-this-page"') < html.index("<header")
        assert '<script src="/static/js/exit.js" defer></script>' in html
    script = client.get("/static/js/exit.js").text
    assert "Escape" in script and "location.replace" in script
