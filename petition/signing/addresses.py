"""Email addresses: syntax check and the canonical form used to recognise one person.

Mail always goes to the address as typed; the canonical form only feeds the keyed hash
that detects duplicates, so "A.Lice+x@GoogleMail.com" and "alice@gmail.com" are one signer.
"""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

# Providers that ignore dots in the local part and/or everything after '+'.
DOTLESS = {"gmail.com", "googlemail.com"}
PLUS_TAGGED = {
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "icloud.com", "me.com",
    "fastmail.com", "fastmail.fm", "tutanota.com", "tuta.io", "yandex.com", "yandex.ru",
}
ALIASES = {"googlemail.com": "gmail.com"}
MAX_LENGTH = 254


class AddressRejected(ValueError):
    pass


def check_syntax(address: str) -> str:
    """The address as the person typed it, normalised (NFC, domain lower-cased) but not
    canonicalised. No DNS look-up: a request never waits on the network."""
    if any(ch in address for ch in "\r\n\x00") or len(address) > MAX_LENGTH:
        raise AddressRejected("invalid")
    try:
        result = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise AddressRejected(str(exc)) from None
    return result.normalized


def canonical(address: str) -> str:
    result = validate_email(address, check_deliverability=False, allow_smtputf8=True)
    local = result.local_part.lower()
    domain = (result.ascii_domain or result.domain).lower().rstrip(".")
    domain = ALIASES.get(domain, domain)
    if domain in PLUS_TAGGED:
        local = local.split("+", 1)[0]
    if domain in DOTLESS:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def domain_of(address: str) -> str:
    result = validate_email(address, check_deliverability=False, allow_smtputf8=True)
    return (result.ascii_domain or result.domain).lower()


def mailbox(address: str) -> str:
    """The mailbox an address delivers to, for the caps on mail: the canonical form with
    any "+tag" folded at every domain (most servers deliver x+anything@ to x@), so that
    tagged variants cannot multiply what a stranger makes us send to one person."""
    local, _, domain = canonical(address).rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"
