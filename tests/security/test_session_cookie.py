"""petition.security.session_cookie: a session cookie's length depends on the length of
what it holds, never on how well that compresses; Flask's own cookies still load."""
from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

from petition.security.session_cookie import SessionInterface


def test_equally_long_sessions_make_equally_long_cookies(app):
    assert isinstance(app.session_interface, SessionInterface)
    serializer = app.session_interface.get_signing_serializer(app)
    repetitive, random_looking = {"who": "a" * 120}, {"who": "q8Zr-x1Kp0vT" * 10}
    assert len(serializer.dumps(repetitive)) == len(serializer.dumps(random_looking))
    # Flask's own interface deflates the first (and so tells the two apart).
    stock = SecureCookieSessionInterface().get_signing_serializer(app)
    assert len(stock.dumps(repetitive)) < len(stock.dumps(random_looking))


def test_cookies_are_read_both_ways(app):
    ours, stock = SessionInterface(), SecureCookieSessionInterface()
    data = {"csrf_token": "a" * 40, "user": 7, "who": "b" * 200}
    for writer, reader in ((ours, stock), (stock, ours)):
        cookie = writer.get_signing_serializer(app).dumps(data)
        assert reader.get_signing_serializer(app).loads(cookie) == data
