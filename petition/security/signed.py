"""Signed values (session cookie, CSRF tokens, links, form stamps) without the zlib step.

itsdangerous's URL-safe serializer deflates every payload it signs and keeps the result
when it is shorter. Our payloads are a few dozen bytes and never shrink, but deflate's
set-up (it clears some 300 KB of state) was the larger part of signing one: eight
signings per complete signature, 2.5 % of its instructions. The values stay readable by
any URLSafeTimedSerializer with the same key and salt, whose loads() takes both forms,
so Flask-WTF's validate_csrf and cookies signed before this change still work.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from flask import Flask, current_app, g, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin
from wtforms.csrf.core import CSRF


class UncompressedSerializer(URLSafeTimedSerializer):
    def dump_payload(self, obj) -> bytes:
        # The plain serializer's JSON, base64'd: URLSafeSerializerMixin minus deflate.
        return base64_encode(super(URLSafeSerializerMixin, self).dump_payload(obj))


@lru_cache(maxsize=64)
def serializer(secret_key: str | bytes, salt: str) -> UncompressedSerializer:
    """One serializer per key and salt for the life of the process (building one per
    value was the other part of the cost)."""
    return UncompressedSerializer(secret_key, salt=salt)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, signed by an UncompressedSerializer built once
    per app and key set (Flask builds a new serializer for every read and every write)."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)  # current key last
        return self._serializer(keys)

    @lru_cache(maxsize=8)  # noqa: B019  one interface per app, living as long as the app
    def _serializer(self, keys: tuple) -> UncompressedSerializer:
        return UncompressedSerializer(
            list(keys), salt=self.salt, serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )


def csrf_token() -> str:
    """The request's CSRF token: Flask-WTF's generate_csrf (same session field, salt and
    per-request cache in g, so its validate_csrf accepts it), signed without deflate."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    token = g.get(field)
    if token is None:
        if not isinstance(session.get(field), str):
            session[field] = hashlib.sha1(os.urandom(64)).hexdigest()
        secret = current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
        token = serializer(secret, "wtf-csrf-token").dumps(session[field])
        setattr(g, field, token)
    return token


class _TokenWhenShown:
    """A form's CSRF token, signed only if the form is rendered: a submitted form is
    usually answered with a redirect and never shown again."""

    __slots__ = ()

    def __str__(self) -> str:
        return csrf_token()

    __html__ = __str__


class FormCSRF(CSRF):
    """Flask-WTF's form CSRF (validated by CSRFProtect before the view runs, or here),
    with the token from csrf_token(), signed only when the form is shown."""

    def setup_form(self, form):
        self.meta = form.meta
        return super().setup_form(form)

    def generate_csrf_token(self, csrf_token_field):
        return _TokenWhenShown()

    def validate_csrf_token(self, form, field):
        from flask_wtf.csrf import validate_csrf

        if g.get("csrf_valid", False):
            return  # CSRFProtect checked it already
        validate_csrf(field.data, self.meta.csrf_secret, self.meta.csrf_time_limit, self.meta.csrf_field_name)
