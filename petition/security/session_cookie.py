"""Session cookies whose length says nothing about what they hold.

Flask signs the session with itsdangerous's URL-safe serializer, which deflates the
payload whenever that makes it shorter. How much deflate saves depends on the content,
so two sessions holding values of equal length (the console's pending login after a
right, a wrong or an unknown password) would become cookies of different lengths, and
anyone who sees the cookie could tell the cases apart (tests/console/test_auth.py,
test_under_pressure_a_wrong_password_looks_like_a_right_one). Here the payload is never
deflated: a cookie is as long as its JSON. Cookies signed by Flask's own interface
(deflated) still load: itsdangerous reads both forms.
"""
from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin


class UndeflatedSerializer(URLSafeTimedSerializer):
    def dump_payload(self, obj) -> bytes:
        # URLSafeSerializerMixin's dump_payload without its deflate step: the JSON, base64'd.
        return base64_encode(super(URLSafeSerializerMixin, self).dump_payload(obj))


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions (same keys, salt, tags and key rotation), undeflated.

    Flask builds a new serializer for every request, cookie or not. Building one was
    33 µs of a cached letter page's ~290 µs in process (cProfile, 2,000 views), the
    largest single cost that page gained in issue 17's round; one serializer per set of
    keys is kept instead. A serializer holds no per-request state, so sharing it across
    threads is safe."""

    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)  # the current key last
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = UndeflatedSerializer(
                list(keys), salt=self.salt, serializer=self.serializer,
                signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
            )
        return serializer
