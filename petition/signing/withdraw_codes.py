"""One-time withdrawal codes: leaving a letter without the mailbox.

A signer whose mailbox is seized or watched cannot use the withdraw link in their mail.
So the page shown right after confirming gives a code, once; typed into the public
"withdraw with a code" page it does exactly what the mailed link does
(services.remove_signature). Only a keyed hash of the code is stored.

The code: 16 characters from an alphabet without look-alikes (no 0/O, 1/I), 80 random
bits, in four groups of four to write down or read aloud. Typing is forgiven: case,
spaces and dashes do not matter, and the Greek capitals and Arabic-Indic digits that
look like or stand for the code's characters are read as them.

A wrong code and a used code are answered alike: a used code's signature is deleted
with it, so both are one SELECT that finds nothing (tests/signing/test_withdraw_codes.py
compares the statements).
"""
from __future__ import annotations

import secrets
import unicodedata

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from petition.privacy.crypto import keyed_hash
from petition.signing.models import Signature

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 symbols: 5 bits each
LENGTH = 16  # 80 bits
GROUP = 4

# Greek capitals a Greek keyboard gives for the Latin letters they look like.
_LOOKALIKES = str.maketrans("ΑΒΕΖΗΚΜΝΡΤΥΧ", "ABEZHKMNPTYX")


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i:i + GROUP] for i in range(0, LENGTH, GROUP))


def normalise(typed: str) -> str:
    """The code's characters as the signer meant them, or "" if it cannot be a code."""
    text = unicodedata.normalize("NFKC", typed or "").upper().translate(_LOOKALIKES)
    chars = []
    for ch in text:
        if ch in " -_.\u00a0\u2010\u2011\u2012\u2013\u2014\u2212\t\r\n":
            continue
        if ch.isdigit():  # Arabic-Indic and other digits: the digit they stand for
            ch = str(unicodedata.digit(ch))
        chars.append(ch)
    code = "".join(chars)
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return ""
    return code


def code_hash(code: str) -> str:
    """The stored form: a keyed hash, so a database dump cannot be turned into codes."""
    return keyed_hash("withdraw-code", normalise(code))


_BY_HASH = select(Signature).where(Signature.withdraw_code_hash == bindparam("code_hash"))


def signature_for(session: Session, typed: str) -> Signature | None:
    """The signature a code withdraws, or None. Always exactly one SELECT, whether the
    code is malformed, wrong or used, so that none of them answers differently."""
    normalised = normalise(typed)
    # A malformed code is looked up too (as a hash no code can have), for the same work.
    hashed = code_hash(normalised) if normalised else keyed_hash("withdraw-code-malformed", typed or "")
    return session.scalars(_BY_HASH, {"code_hash": hashed}).first()
