"""petition.security.signed: values signed without deflate stay compatible with
itsdangerous, Flask's sessions and Flask-WTF, in both directions."""
from __future__ import annotations

import pytest
from flask import g, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf, validate_csrf
from itsdangerous import URLSafeTimedSerializer
from wtforms import ValidationError

from petition.security.signed import SessionInterface, UncompressedSerializer, csrf_token, serializer
from petition.signing.forms import ConfirmForm


def test_tokens_are_not_deflated_and_read_by_the_stock_serializer():
    payload = ["x" * 200, 12345]  # would shrink under deflate
    token = UncompressedSerializer("key", salt="s").dumps(payload)
    assert not token.startswith(".")  # itsdangerous marks deflated payloads with a leading dot
    assert URLSafeTimedSerializer("key", salt="s").loads(token) == payload
    deflated = URLSafeTimedSerializer("key", salt="s").dumps(payload)
    assert deflated.startswith(".") and UncompressedSerializer("key", salt="s").loads(deflated) == payload
    assert serializer("key", "s") is serializer("key", "s")


def test_session_cookies_read_both_ways(app):
    ours, stock = SessionInterface(), SecureCookieSessionInterface()
    assert isinstance(app.session_interface, SessionInterface)
    data = {"csrf_token": "a" * 40, "user": 7}
    for writer, reader in ((ours, stock), (stock, ours)):
        cookie = writer.get_signing_serializer(app).dumps(data)
        assert reader.get_signing_serializer(app).loads(cookie) == data
    assert ours.get_signing_serializer(app) is ours.get_signing_serializer(app)


def test_csrf_token_is_flask_wtfs_token(app):
    # The test's app context (and so g) outlives each request context here, unlike in a
    # served request: each block starts by dropping the cached token.
    with app.test_request_context("/"):
        g.pop("csrf_token", None)
        token = csrf_token()
        assert csrf_token() is token and g.csrf_token == token  # one per request, where Flask-WTF keeps it
        assert generate_csrf() == token  # Flask-WTF sees the same token
        validate_csrf(token)
        with pytest.raises(ValidationError):
            validate_csrf(token[:-2] + "xx")
    with app.test_request_context("/"):
        g.pop("csrf_token", None)
        session["csrf_token"] = "b" * 40
        validate_csrf(generate_csrf())  # and tokens Flask-WTF signs still pass
        theirs = generate_csrf()
    with app.test_request_context("/"):
        g.pop("csrf_token", None)
        session["csrf_token"] = "b" * 40
        assert csrf_token() != theirs  # different bytes (not deflated), same secret behind both
        validate_csrf(theirs)


def test_a_forms_token_is_signed_only_when_the_form_is_shown(app):
    with app.test_request_context("/", method="POST"):
        g.pop("csrf_token", None)
        form = ConfirmForm()
        assert "csrf_token" not in g  # built for a submission: nothing signed yet
        html = str(form.csrf_token)
        assert g.csrf_token in html
        validate_csrf(g.csrf_token)
