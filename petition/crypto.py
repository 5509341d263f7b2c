"""Encryption of personal data at rest and keyed hashes for lookups.

A copy of the database alone must reveal only what the site already shows, so every
personal field that is not public is stored as a Fernet token under DATA_KEYS (kept
outside the database), and lookups go through an HMAC under HASH_KEY.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from typing import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app


@lru_cache(maxsize=8)
def fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    """The Fernet of these DATA_KEYS (newest first). For code that runs with no Flask
    app, such as the bundle annex's render processes; everything else uses encrypt and
    decrypt below."""
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _current() -> MultiFernet:
    return fernet_for(tuple(current_app.config["PETITION"].DATA_KEYS))


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


# ---- large files: a streaming AEAD ------------------------------------------------------
#
# Fernet needs the whole message in memory, and a million-signature bundle is over
# 100 MB. Large files are cut into chunks sealed one by one with AES-256-GCM under a key
# of their own (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár): the
# nonce is the chunk's number and a last-chunk flag, so chunks cannot be reordered,
# dropped or cut off at the end without the reader noticing. The file's key is stored
# wrapped by Fernet under DATA_KEYS, so rotating DATA_KEYS re-wraps a short key and
# never rewrites the file.

STREAM_CHUNK = 1 << 20  # plaintext bytes a chunk; memory stays about two chunks


class StreamDamaged(RuntimeError):
    """A sealed stream was altered, reordered, cut short or sealed under another key."""


def new_stream_key() -> tuple[bytes, str]:
    """A fresh key for one file, and the same key wrapped for storage beside it."""
    key = AESGCM.generate_key(bit_length=256)
    return key, encrypt(base64.b64encode(key).decode("ascii"))


def unwrap_stream_key(wrapped: str) -> bytes:
    return base64.b64decode(decrypt(wrapped))


def _stream_nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def seal_stream(key: bytes, chunks, associated: bytes) -> Iterator[bytes]:
    """Encrypt an iterable of plaintext chunks, yielding one sealed chunk per chunk (an
    empty file still yields one). associated binds the chunks to their owner (a row id)."""
    aead = AESGCM(key)
    index = 0
    pending: bytes | None = None
    for chunk in chunks:
        if pending is not None:
            yield aead.encrypt(_stream_nonce(index, False), pending, associated)
            index += 1
        pending = bytes(chunk)
    yield aead.encrypt(_stream_nonce(index, True), pending or b"", associated)


def open_stream(key: bytes, sealed, associated: bytes) -> Iterator[bytes]:
    """Decrypt what seal_stream yielded, chunk by chunk; raise StreamDamaged if anything
    was changed, moved, added after the end or cut off."""
    aead = AESGCM(key)
    index = 0
    pending: bytes | None = None
    for chunk in sealed:
        if pending is not None:
            try:
                yield aead.decrypt(_stream_nonce(index, False), pending, associated)
            except InvalidTag as exc:
                raise StreamDamaged(f"chunk {index} does not decrypt") from exc
            index += 1
        pending = bytes(chunk)
    if pending is None:
        raise StreamDamaged("no chunk at all")
    try:
        yield aead.decrypt(_stream_nonce(index, True), pending, associated)
    except InvalidTag as exc:
        raise StreamDamaged(f"chunk {index} is not the last one, or does not decrypt") from exc
