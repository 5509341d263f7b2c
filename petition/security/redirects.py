"""Where a redirect after login may go: a path on this site, and nothing else.

The target is parsed (urllib.parse) and rebuilt from its path and query only, each
part re-quoted, with empty and "." segments dropped: whatever a browser does with tabs,
backslashes or runs of slashes (`/%09/evil.example`, `/\\evil.example`, `///evil`), the
result is one path-absolute reference on this host. No string test decides it.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

MAX_LENGTH = 500
# RFC 3986 pchar minus "%" (so nothing can be decoded into a separator later).
_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"


def local_path(target: str | None) -> str | None:
    """target as a path on this site, or None if it is anything else."""
    if not target or len(target) > MAX_LENGTH:
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # an unbalanced "[" in what urlsplit takes for a host
        return None
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    segments = [quote(segment, safe=_SEGMENT_SAFE) for segment in parts.path.split("/")[1:]]
    kept = [segment for segment in segments[:-1] if segment not in ("", ".")]
    path = "/" + "/".join(kept + segments[-1:])  # the last one may be "" (a trailing slash)
    query = urlencode(parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(("", "", path, query, ""))
