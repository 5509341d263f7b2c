"""Websites and contact addresses: is the contact on the organisation's own domain?

No public-suffix list is fetched at run time (no third-party requests); a short list of
the second-level labels that ccTLDs commonly register under (org.lb, co.uk, com.eg, ...)
is enough for the hint leads see. It is a hint, never an automatic decision.
"""
from __future__ import annotations

from urllib.parse import urlsplit

# Labels under which a country-code TLD hands out names (example.org.lb, example.co.uk).
SECOND_LEVEL = {"ac", "co", "com", "edu", "gov", "gv", "mil", "net", "ngo", "or", "org", "ne", "go", "asso", "gouv", "nic"}
MAX_WEBSITE = 300


class WebsiteRejected(ValueError):
    pass


def normalise_website(value: str) -> str:
    """An http(s) URL with a real-looking host; "example.org" gains https://."""
    value = (value or "").strip()
    if not value:
        return ""
    if len(value) > MAX_WEBSITE or any(ch.isspace() for ch in value):
        raise WebsiteRejected("invalid")
    if "://" not in value:
        value = "https://" + value
    try:
        parts = urlsplit(value)
        host = parts.hostname
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise WebsiteRejected("invalid") from None
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise WebsiteRejected("invalid")
    if port is not None:
        raise WebsiteRejected("invalid")
    try:
        host = host.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        raise WebsiteRejected("invalid") from None
    labels = host.split(".")
    if len(labels) < 2 or not all(labels) or labels[-1].isdigit():
        raise WebsiteRejected("invalid")
    path = parts.path or "/"
    rebuilt = f"{parts.scheme}://{host}{path}"
    if parts.query:
        rebuilt += "?" + parts.query
    if len(rebuilt) > MAX_WEBSITE:
        raise WebsiteRejected("invalid")
    return rebuilt


def host_of(website: str) -> str | None:
    try:
        host = urlsplit(website).hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def registrable_domain(host: str) -> str:
    """www.helem.net -> helem.net; www.smex.org.lb -> smex.org.lb; bbc.co.uk -> bbc.co.uk."""
    labels = [label for label in host.lower().rstrip(".").split(".") if label]
    if len(labels) <= 2:
        return ".".join(labels)
    if len(labels[-1]) == 2 and labels[-2] in SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def contact_matches(email_domain: str, website: str | None) -> bool | None:
    """True if the contact's address is on the website's domain or a subdomain of it;
    None when there is no website to compare with."""
    if not website:
        return None
    host = host_of(website)
    if not host:
        return None
    base = registrable_domain(host)
    domain = email_domain.lower().rstrip(".")
    return domain == base or domain.endswith("." + base)
