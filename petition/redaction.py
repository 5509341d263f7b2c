"""What a log line must never hold, in one place: capability tokens, email and client addresses.

Used by the app's log filter (petition.logs), gunicorn's access and error logs
(deploy/gunicorn.conf.py) and, through the generated map below, nginx's access log
(deploy/nginx/petition.conf). tests/security/test_redaction.py checks every route of the
app that takes a token-like argument against TOKEN_ROUTES, and that the nginx file holds
exactly nginx_map().

Addresses are found with a loose pattern and then confirmed by the ipaddress module, so
clock times (`29/Nov/2026:19:49:24`, `19:49:24`) are never mistaken for IPv6 addresses.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

from werkzeug.routing.converters import NumberConverter

# The paths whose segment after the prefix is a capability (a link that acts for someone):
# /<lang>/<prefix>/<token>[/more]. A new route that takes a token must be added here
# (tests/security/test_redaction.py fails until it is). Longest first, for the regex.
TOKEN_ROUTES: tuple[str, ...] = (
    "organisations/confirm",
    "organisations/withdraw",
    "updates/unsubscribe",
    "company",  # a company's capability link to its delivery (petition.deliveries)
    "confirm",
    "withdraw",
)

# URL arguments that are not secrets (anything else a route takes as a string is treated
# as a token and must be covered by TOKEN_ROUTES): bundle_id is a bundle's public
# identifier (console only), digest the content hash in a share image's address.
PUBLIC_URL_ARGUMENTS = frozenset({"lang", "slug", "filename", "bundle_id", "digest"})

TOKEN_PLACEHOLDER = "<token>"
ADDRESS_PLACEHOLDER = "<ip>"
EMAIL_PLACEHOLDER = "<email>"

# One pattern for both sides: Python's re and nginx's PCRE read (?P<name>...) alike.
TOKEN_PATH_PATTERN = (
    r"/(?P<plang>[^/\s?#\x22]+)/(?P<pkind>" + "|".join(re.escape(p) for p in TOKEN_ROUTES) + r")/[^/\s?#\x22]+"
)
_TOKEN_PATH = re.compile(TOKEN_PATH_PATTERN)
# itsdangerous values (payload.timestamp.signature) wherever they appear.
_SIGNED_VALUE = re.compile(r"[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-.]{10,}")
# A path segment that can only be a random value (belt and braces for paths not listed).
_TOKEN_SEGMENT = re.compile(r"^[A-Za-z0-9_\-.=~]{24,}$")
_EMAIL = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?!\w|\.\d)")
# Candidates only: hex groups with at least two colons, an optional dotted IPv4 tail
# (::ffff:192.0.2.1) and zone (fe80::1%eth0). ipaddress decides what is an address.
_IPV6_CANDIDATE = re.compile(
    r"(?<![\w:.%])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?:%[0-9A-Za-z_\-]+(?:\.[0-9A-Za-z_\-]+)*)?(?![\w:])"
)

KeepAddress = Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool]


def never_keep(_address) -> bool:
    return False


def loopback_only(address) -> bool:
    """A keep-policy for messages about this machine's own listening sockets (the
    development server's start-up banner): loopback and "any" addresses name no one."""
    return address.is_loopback or address.is_unspecified


def _address_replacer(keep: KeepAddress, *, unparsable: str | None):
    def replace(match: re.Match) -> str:
        text = match.group(0)
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return text if unparsable is None else unparsable
        return text if keep(address) else ADDRESS_PLACEHOLDER
    return replace


def redact_token_paths(text: str) -> str:
    """/<lang>/confirm/<anything> and every other TOKEN_ROUTES path, wherever it appears."""
    return _TOKEN_PATH.sub(lambda m: f"/{m.group('plang')}/{m.group('pkind')}/{TOKEN_PLACEHOLDER}", text)


def redact(text: str, keep: KeepAddress = never_keep) -> str:
    """A log message with capability tokens, email addresses and IP addresses cut out.

    keep decides about addresses that are not secrets (see loopback_only); by default
    every address goes."""
    text = redact_token_paths(text)
    text = _SIGNED_VALUE.sub(TOKEN_PLACEHOLDER, text)
    text = _EMAIL.sub(EMAIL_PLACEHOLDER, text)
    # IPv6 first, so ::ffff:192.0.2.1 goes whole. A candidate that is no address is a
    # clock time or the like and stays; four dotted numbers always go (010.0.0.1 is an
    # address to some tools, whatever Python says).
    text = _IPV6_CANDIDATE.sub(_address_replacer(keep, unparsable=None), text)
    return _IPV4.sub(_address_replacer(keep, unparsable=ADDRESS_PLACEHOLDER), text)


def redact_path(path: str | None) -> str:
    """A request path for an access log: token routes cut, and any segment that can only
    be a random value too."""
    if not path:
        return "-"
    segments = [TOKEN_PLACEHOLDER if _TOKEN_SEGMENT.match(s) else s for s in path.split("/")]
    return redact("/".join(segments))


def nginx_map(source: str = "$uri", variable: str = "$petition_log_path") -> str:
    """The nginx map that logs TOKEN_ROUTES paths without their token (the block in
    deploy/nginx/petition.conf must be exactly this; print it with
    `python -m petition.redaction`)."""
    lines = [
        f"map {source} {variable} {{",
        f"    default {source};",
        f'    "~^{TOKEN_PATH_PATTERN}(?P<prest>/.*)?$" '
        f'"/$plang/$pkind/{TOKEN_PLACEHOLDER}$prest";',
        "}",
    ]
    return "\n".join(lines)


def token_like_arguments(rule_arguments: Iterable[str], converters: dict) -> set[str]:
    """The arguments of a URL rule that could carry a secret: strings not known to be public."""
    return {name for name in rule_arguments
            if name not in PUBLIC_URL_ARGUMENTS and not isinstance(converters.get(name), NumberConverter)}


if __name__ == "__main__":
    print(nginx_map())
