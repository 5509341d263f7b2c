"""One redaction module (petition.redaction) for the app's logs, gunicorn's and nginx's.

Attacks: an access log that loses its time to the IPv6 pattern; a capability token of a
confirm, withdraw or unsubscribe link written in full by nginx; a new token route that
nobody added to the redaction list."""
from __future__ import annotations

import importlib.util
import logging
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from petition import redaction
from petition.logs import RedactingFilter
from petition.redaction import loopback_only, redact, redact_path

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx" / "petition.conf"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"

TOKEN = "WzEyMywiYWJjZGVmZ2hpamtsbW5vcCJd.aBcDeF.0123456789abcdefghijklmnopqrstu"


def _gunicorn_conf():
    spec = importlib.util.spec_from_file_location("petition_gunicorn_conf", GUNICORN_CONF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- timestamps survive, addresses do not -------------------------------------------------

# (line as written, line as it must be logged): real formats of gunicorn (ours and its
# default), nginx (ours and "combined"), werkzeug's development server.
ACCESS_LINES = [
    ('[29/Nov/2026:19:49:24 +0000] "GET /en/letters/secure-our-socials/" 200 5120 12ms <4711>',
     '[29/Nov/2026:19:49:24 +0000] "GET /en/letters/secure-our-socials/" 200 5120 12ms <4711>'),
    (f'[29/Nov/2026:19:49:24 +0000] "GET /en/confirm/{TOKEN}" 404 300 3ms <4711>',
     '[29/Nov/2026:19:49:24 +0000] "GET /en/confirm/<token>" 404 300 3ms <4711>'),
    ('203.0.113.9 - - [29/Nov/2026:19:49:24 +0000] "GET /ar/ HTTP/1.1" 200 812 "-" "curl/8.5.0"',
     '<ip> - - [29/Nov/2026:19:49:24 +0000] "GET /ar/ HTTP/1.1" 200 812 "-" "curl/8.5.0"'),
    ('2001:db8:85a3::8a2e:370:7334 - - [29/Nov/2026:19:49:24 +0000] "GET /fr/ HTTP/2.0" 200 1 "-" "-"',
     '<ip> - - [29/Nov/2026:19:49:24 +0000] "GET /fr/ HTTP/2.0" 200 1 "-" "-"'),
    ('2026-11-29T19:49:24+00:00 "GET /el/updates/unsubscribe/abcDEF123/one-click" 200 0 0.004s',
     '2026-11-29T19:49:24+00:00 "GET /el/updates/unsubscribe/<token>/one-click" 200 0 0.004s'),
    ('2026-11-29T19:49:24+00:00 "POST /en/organisations/withdraw/shortTok" 303 0 0.010s',
     '2026-11-29T19:49:24+00:00 "POST /en/organisations/withdraw/<token>" 303 0 0.010s'),
    ('127.0.0.1 - - [29/Nov/2026 19:49:24] "GET /en/withdraw/Zm9v?x=1 HTTP/1.1" 404 -',
     '<ip> - - [29/Nov/2026 19:49:24] "GET /en/withdraw/<token>?x=1 HTTP/1.1" 404 -'),
    ("2026-11-29 19:49:24,123 INFO petition.mail: sent in 0:00:01.5 at 19:49:24.123456",
     "2026-11-29 19:49:24,123 INFO petition.mail: sent in 0:00:01.5 at 19:49:24.123456"),
]

ADDRESSES = [
    "192.0.2.1", "203.0.113.255", "010.0.0.1",
    "2001:0db8:85a3:0000:0000:8a2e:0370:7334",  # full
    "2001:db8::1", "::1", "::", "fe80::1ff:fe23:4567:890a",  # compressed
    "::ffff:192.0.2.44", "::ffff:c000:22c",  # IPv4-mapped
    "fe80::1%eth0", "fe80::abcd%3",  # with a zone
    "2001:db8:0:0:1:0:0:1",
]


@pytest.mark.parametrize("written, expected", ACCESS_LINES)
def test_access_lines_keep_their_time_and_lose_addresses_and_tokens(written, expected):
    assert redact(written) == expected


@pytest.mark.parametrize("written, expected", ACCESS_LINES)
def test_gunicorn_uses_the_same_redaction(written, expected):
    conf = _gunicorn_conf()
    assert conf.redact is redact and conf.redact_path is redact_path
    assert conf.redact(written) == expected


@pytest.mark.parametrize("address", ADDRESSES)
@pytest.mark.parametrize("shape", ["client {} refused", "ip={}", "[{}]:443", "from {}.", "({})", "{}"])
def test_every_form_of_address_is_cut(address, shape):
    line = shape.format(address)
    redacted = redact(line)
    assert address not in redacted
    assert "<ip>" in redacted
    # Nothing of the address is left beside the placeholder (no "::ffff:<ip>", no "%eth0").
    assert redacted == shape.format("<ip>")


@pytest.mark.parametrize("clock", ["19:49:24", "29/Nov/2026:19:49:24", "2026:19:49:24", "0:00:01",
                                   "2026-11-29T19:49:24+00:00", "19:49:24.123456", "12:34:56:78"])
def test_clock_times_are_not_addresses(clock):
    assert redact(f"at {clock} done") == f"at {clock} done"


def test_emails_and_signed_values_anywhere():
    assert redact("to someone+tag@example.org refused") == "to <email> refused"
    assert redact(f"token {TOKEN} in text") == "token <token> in text"


def test_the_hook_for_this_machine_s_own_addresses():
    """The development server's banner may name loopback and "any" addresses (issue 18);
    client addresses still go."""
    banner = "Running on http://127.0.0.1:5000 and http://[::1]:5000, all on 0.0.0.0 and ::; client 203.0.113.9"
    assert redact(banner, loopback_only) == (
        "Running on http://127.0.0.1:5000 and http://[::1]:5000, all on 0.0.0.0 and ::; client <ip>")
    assert "127.0.0.1" not in redact(banner)


def test_the_log_filter_redacts_messages_arguments_and_tracebacks():
    record = logging.LogRecord("petition", logging.WARNING, __file__, 1, "at %s from %s for %s",
                               ("[29/Nov/2026:19:49:24 +0000]", "2001:db8::7", f"/en/confirm/{TOKEN}"), None)
    try:
        raise RuntimeError("550 refused for 198.51.100.7 <x@example.org>")
    except RuntimeError:
        import sys
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "at [29/Nov/2026:19:49:24 +0000] from <ip> for /en/confirm/<token>"
    assert "198.51.100.7" not in record.exc_text and "x@example.org" not in record.exc_text


# ---- every token route of the app is covered, on every side ---------------------------------

def _nginx_map_key_and_value() -> tuple[str, str]:
    text = NGINX_CONF.read_text()
    match = re.search(r'^\s*"~(?P<key>[^\n]*)" "(?P<value>[^"]*)";$', text, re.MULTILINE)
    assert match, "no regex map entry in the nginx config"
    return match.group("key"), match.group("value")


def _nginx_like(path: str) -> str:
    """What the nginx map makes of a path, evaluated with Python's re (the pattern is
    written so both engines read it the same; test_nginx_itself checks nginx)."""
    key, value = _nginx_map_key_and_value()
    match = re.match(key, path)
    if not match:
        return path
    return re.sub(r"\$(\w+)", lambda m: match.group(m.group(1)) or "", value)


def test_the_nginx_config_holds_the_generated_map():
    assert redaction.nginx_map() in NGINX_CONF.read_text()


def _token_routes(app):
    for rule in app.url_map.iter_rules():
        secret_arguments = redaction.token_like_arguments(rule.arguments, rule._converters)
        if secret_arguments:
            yield rule, secret_arguments


def test_every_route_taking_a_token_is_redacted_by_app_gunicorn_and_nginx(app):
    """Enumerates the URL map: a new route with a string argument that is not known to be
    public fails here until its path is in redaction.TOKEN_ROUTES."""
    gunicorn_conf = _gunicorn_conf()
    routes = list(_token_routes(app))
    endpoints = {rule.endpoint for rule, _ in routes}
    assert {"signing.confirm", "signing.withdraw", "organisations.confirm", "organisations.withdraw",
            "updates.unsubscribe", "updates.one_click"} <= endpoints
    for rule, arguments in routes:
        values = {name: "en" if name == "lang" else "some-slug" for name in rule.arguments}
        # Short, plain secrets: only the route list (not the look of a token) can catch them.
        secrets_used = {name: "Sec" + secrets.token_hex(4) for name in arguments}
        values.update(secrets_used)
        with app.test_request_context():
            from flask import url_for
            path = url_for(rule.endpoint, **values)
        for side, written in (("app", redact(f'"GET {path} HTTP/1.1" 200')),
                              ("gunicorn", gunicorn_conf.redact_path(path)),
                              ("nginx", _nginx_like(path))):
            for secret in secrets_used.values():
                assert secret not in written, f"{side} logs the token of {rule.rule}: {written}"
            assert "<token>" in written, (side, rule.rule, written)


def test_an_unlisted_token_route_fails_the_check(app):
    """The check above would catch a route nobody listed."""
    from werkzeug.routing import Rule

    rule = Rule("/<lang>/letters/recover/<token>", endpoint="nobody.listed")
    rule.bind(app.url_map)
    assert redaction.token_like_arguments(rule.arguments, rule._converters) == {"token"}
    assert "Sec1234" in redact('"GET /en/letters/recover/Sec1234 HTTP/1.1"')


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(), reason="no nginx")
def test_nginx_itself_logs_token_paths_without_the_token(tmp_path):
    """Runs nginx with the shipped log format and map and reads its access log."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    text = NGINX_CONF.read_text()
    log_format = re.search(r"^log_format petition_private .*?;$", text, re.MULTILINE | re.DOTALL).group(0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    access = tmp_path / "access.log"
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(f"""
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log crit;
events {{ worker_connections 16; }}
http {{
    client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fcgi; uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;
    {log_format}
    {redaction.nginx_map()}
    server {{
        listen 127.0.0.1:{port};
        access_log {access} petition_private;
        location / {{ return 204; }}
    }}
}}
""")
    process = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        paths = {f"/en/{prefix}/Sec{secrets.token_hex(6)}": f"/en/{prefix}/<token>" for prefix in redaction.TOKEN_ROUTES}
        paths[f"/ar/updates/unsubscribe/{TOKEN}/one-click"] = "/ar/updates/unsubscribe/<token>/one-click"
        paths["/en/letters/secure-our-socials/"] = "/en/letters/secure-our-socials/"
        for path in paths:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?email=x%40example.org", timeout=5).read()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and access.exists() and access.read_text().count("\n") < len(paths):
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=10)
    logged = access.read_text()
    for path, expected in paths.items():
        assert f'"GET {expected}" 204' in logged, logged
        if path != expected:
            assert path.rsplit("/", 1)[-1] not in logged or path.endswith("one-click")
    assert TOKEN not in logged and "Sec" not in logged and "example.org" not in logged
    assert "127.0.0.1" not in logged
