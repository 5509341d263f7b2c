"""The delivery log's hash chain: one rule, used to write entries and to check them.

Each entry's hash is SHA-256 over the canonical serialisation of the entry and the
previous entry's hash:

    entry_hash = sha256(canonical({"v": 1, "letter": slug, "seq": n, "kind": kind,
                                   "at": at, "data": data, "prev": prev_hash}))
    canonical(x) = JSON, keys sorted, no spaces (separators "," and ":"), non-ASCII
                   kept as UTF-8 (ensure_ascii off), encoded as UTF-8

and the first entry's prev_hash is 64 zeros. Anyone with the public log (page or API)
can recompute every hash with a few lines in any language; a row changed in the
database breaks its own hash and, once recomputed, the next entry's prev_hash: nobody
can rewrite an entry without rewriting every entry after it, and the latest hash is
public (letter page, API), so whoever kept it sees the rewrite.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable

FORMAT = 1
GENESIS = "0" * 64
# For the API's readers: how to recompute every entry_hash.
DESCRIPTION = ('entry_hash = SHA-256 (hex) of the UTF-8 JSON of {"v": 1, "letter": <slug>, "seq", "kind", "at", '
               '"data", "prev": <prev_hash>} with keys sorted, separators "," and ":", non-ASCII unescaped; '
               'the first entry\'s prev_hash is 64 zeros')


def canonical(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def data_text(data: dict) -> str:
    """The text an entry's data is stored as: its canonical serialisation."""
    return canonical(data).decode("utf-8")


def entry_hash(*, letter: str, seq: int, kind: str, at: str, data: dict, prev: str) -> str:
    return hashlib.sha256(canonical({"v": FORMAT, "letter": letter, "seq": seq, "kind": kind, "at": at,
                                     "data": data, "prev": prev})).hexdigest()


@dataclass(frozen=True)
class Problem:
    seq: int
    reason: str


def check(letter: str, entries: Iterable) -> list[Problem]:
    """Every break in a letter's chain: entries (with seq, kind, at, data text, prev_hash,
    entry_hash) in the order of seq. An empty list means the chain is whole."""
    problems = []
    prev = GENESIS
    expected_seq = 1
    for entry in entries:
        if entry.seq != expected_seq:
            problems.append(Problem(entry.seq, f"expected entry {expected_seq} here (an entry is missing or moved)"))
        expected_seq = entry.seq + 1
        try:
            data = json.loads(entry.data)
        except ValueError:
            problems.append(Problem(entry.seq, "its data is not JSON"))
            prev = entry.entry_hash
            continue
        if data_text(data) != entry.data:
            problems.append(Problem(entry.seq, "its data is not in canonical form"))
        if entry.prev_hash != prev:
            problems.append(Problem(entry.seq, "it does not point to the previous entry's hash"))
        if entry_hash(letter=letter, seq=entry.seq, kind=entry.kind, at=entry.at, data=data,
                      prev=entry.prev_hash) != entry.entry_hash:
            problems.append(Problem(entry.seq, "its content does not match its hash (changed after it was written)"))
        prev = entry.entry_hash
    return problems
