"""Keys for rate limiting that never carry a client address in the clear."""
from __future__ import annotations

import ipaddress

from flask import current_app, request

from petition.crypto import keyed_hash


def client_network(address: str, ipv6_prefix: int) -> str:
    """The unit one client controls: an IPv4 address, or the IPv6 network of
    ipv6_prefix bits around an IPv6 address (a single home or phone is given a whole
    /64 and picks any address in it, so per-address keys would make each request a new
    client). IPv4-mapped IPv6 addresses count as their IPv4 address; a zone is ignored."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address  # "unknown", a unix socket's peer name
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return str(ip)


def client_key() -> str:
    """The one key of every per-client limit: a keyed hash of the client's network
    (client_network), enough to count, useless to read. Only this digest reaches the
    limiter's storage; the address and the prefix are never stored or logged.

    The address itself comes from ProxyFix when TRUSTED_PROXIES is set, otherwise from
    the socket; X-Forwarded-For is never trusted on its own.
    """
    address = request.remote_addr or "unknown"
    return keyed_digest("client", client_network(address, current_app.config["PETITION"].CLIENT_IPV6_PREFIX))


def keyed_digest(purpose: str, value: str) -> str:
    """crypto.keyed_hash cut to 128 bits: short keys for the limiter's storage."""
    return keyed_hash(purpose, value)[:32]
