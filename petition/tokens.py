"""Signed, expiring, single-use links (confirm, manage/withdraw, unsubscribe).

The link carries (purpose-salted) id and a random nonce; the database keeps only the
nonce's SHA-256, cleared once the link has been used, and compares in constant time.
"""
from __future__ import annotations

import hmac
import secrets

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from petition.crypto import digest


class InvalidLink(Exception):
    """Expired, tampered with, already used, or for something that no longer exists."""


def new_nonce() -> tuple[str, str]:
    nonce = secrets.token_urlsafe(18)
    return nonce, digest(nonce)


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"petition.{purpose}")


def make(purpose: str, object_id: int, nonce: str) -> str:
    return _serializer(purpose).dumps([object_id, nonce])


def read(purpose: str, token: str, max_age_days: int | None = None) -> tuple[int, str]:
    days = max_age_days if max_age_days is not None else current_app.config["PETITION"].TOKEN_MAX_AGE_DAYS
    if not token or len(token) > 400:
        raise InvalidLink()
    try:
        object_id, nonce = _serializer(purpose).loads(token, max_age=days * 86400)
    except (BadData, ValueError, TypeError):
        raise InvalidLink() from None
    if not isinstance(object_id, int) or not isinstance(nonce, str):
        raise InvalidLink()
    return object_id, nonce


def nonce_matches(nonce: str, stored_hash: str | None) -> bool:
    if not stored_hash:
        return False
    return hmac.compare_digest(digest(nonce), stored_hash)
