"""One-time withdrawal codes: leaving a letter without the mailbox.

A signer whose mailbox is seized or watched cannot use the withdraw link in their mail.
So the page shown right after confirming (a signature, or an organisation's
co-signature: every kind of signer, signing/optin.py) gives a code, once; typed into the
public "withdraw with a code" page it does exactly what the mailed link does (the kind's
remove: signing.services.remove_signature, organisations.services.remove_organisation).
Only a keyed hash of the code is stored, in each kind's own rows (withdraw_code_hash).

The code: 16 characters from an alphabet without look-alikes (no 0/O, 1/I), 80 random
bits, in four groups of four to write down or read aloud. Typing is forgiven: case,
spaces and dashes do not matter, and the Greek capitals and Arabic-Indic digits that
look like or stand for the code's characters are read as them.

A wrong code and a used code are answered alike: a used code's row is deleted with it,
so both are one SELECT that finds nothing (tests/signing/test_withdraw_codes.py
compares the statements).
"""
from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import CompoundSelect, Select, bindparam, literal, select, union_all
from sqlalchemy.orm import Session

from petition.crypto import keyed_hash

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


@lru_cache(maxsize=4)
def _by_hash(holders: tuple[type, ...]) -> Select | CompoundSelect:
    """Every kind's rows in one statement, so a code costs the same whichever kind it is
    for, or whether it is for anything. Each row says which kind (its table) and its id."""
    selects = [select(literal(model.__tablename__).label("kind"), model.id)
               .where(model.withdraw_code_hash == bindparam("code_hash")) for model in holders]
    return selects[0] if len(selects) == 1 else union_all(*selects)


def holder_for(session: Session, typed: str, holders: Sequence[type]) -> object | None:
    """The row a code withdraws (of one of holders: the models whose rows keep a code's
    hash in withdraw_code_hash, a signature's or an organisation's), or None. Always
    exactly one SELECT when the answer is None, whether the code is malformed, wrong or
    used, so that none of them answers differently."""
    normalised = normalise(typed)
    # A malformed code is looked up too (as a hash no code can have), for the same work.
    hashed = code_hash(normalised) if normalised else keyed_hash("withdraw-code-malformed", typed or "")
    found = session.execute(_by_hash(tuple(holders)), {"code_hash": hashed}).first()
    if found is None:
        return None
    model = next(model for model in holders if model.__tablename__ == found.kind)
    return session.get(model, found.id)
