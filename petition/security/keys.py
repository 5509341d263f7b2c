"""Keys for rate limiting that never carry a client address in the clear."""
from __future__ import annotations

import hashlib
import hmac

from flask import current_app, request


def client_key() -> str:
    """A keyed hash of the client address: enough to count, useless to read.

    The address itself comes from ProxyFix when TRUSTED_PROXIES is set, otherwise from
    the socket; X-Forwarded-For is never trusted on its own.
    """
    address = request.remote_addr or "unknown"
    return keyed_digest("client", address)


def keyed_digest(purpose: str, value: str) -> str:
    secret = current_app.config["PETITION"].HASH_KEY.encode()
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]
