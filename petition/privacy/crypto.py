"""Encryption of personal data at rest and keyed hashes for lookups.

A copy of the database alone must reveal only what the site already shows, so every
personal field that is not public is stored as a Fernet token under DATA_KEYS (kept
outside the database), and lookups go through an HMAC under HASH_KEY.
"""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(current_app.config["PETITION"].DATA_KEYS))


def encrypt(value: str | None) -> str | None:
    if value is None:
        return None
    return _current().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return _current().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:  # a key was removed before rotation finished
        raise RuntimeError("personal data could not be decrypted with DATA_KEYS") from exc


def rotate(token: str | None) -> str | None:
    """Re-encrypt a token under the newest key (MultiFernet.rotate)."""
    if token is None:
        return None
    return _current().rotate(token.encode("ascii")).decode("ascii")


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of value, separated by purpose so hashes cannot be compared across uses."""
    secret = current_app.config["PETITION"].HASH_KEY.encode()
    return hmac.new(secret, f"{purpose}\x00{value}".encode("utf-8"), hashlib.sha256).hexdigest()


def digest(value: str) -> str:
    """Unkeyed SHA-256, for values that are already secret (nonces, receipt codes)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
