"""Cleaning what people type: one canonical Unicode form, no invisible tricks.

Names are shown to other people and printed in bundles, so characters that reorder or
hide text (bidirectional overrides and isolates, zero-width characters) are removed, and
control characters (newlines included, which could forge a mail header) are refused.
"""
from __future__ import annotations

import re
import unicodedata

BIDI_CONTROLS = {
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
    "\u200e", "\u200f", "\u061c",  # directional marks
}
ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e", "\u00ad"}
REMOVED = BIDI_CONTROLS | ZERO_WIDTH
_SPACES = re.compile(r"\s+")


class TextRejected(ValueError):
    """The text holds something we refuse rather than clean (control characters)."""


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cs", "Co", "Cn"} and ch not in REMOVED for ch in value)


def clean_line(value: str | None, *, allow_newlines: bool = False) -> str:
    """NFC, invisible characters removed, whitespace folded. Raises TextRejected on
    control characters (allow_newlines keeps \n for multi-line fields)."""
    if value is None:
        return ""
    value = unicodedata.normalize("NFC", value)
    if allow_newlines:
        value = value.replace("\r\n", "\n")
        check = value.replace("\n", "")
    else:
        check = value
    if has_control_characters(check):
        raise TextRejected("control characters")
    value = "".join(ch for ch in value if ch not in REMOVED and unicodedata.category(ch) != "Cf")
    if allow_newlines:
        lines = [_SPACES.sub(" ", line).strip() for line in value.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return _SPACES.sub(" ", value).strip()


def initials(name: str) -> str:
    """"Amal Haddad" -> "A. H.", "سارة" -> "س."; at most three parts."""
    parts = [p for p in re.split(r"[\s\-‐]+", name) if p]
    letters = []
    for part in parts[:3]:
        first = next((ch for ch in part if ch.isalpha()), None)
        if first:
            letters.append(first.upper() + ".")
    return " ".join(letters) or "—"
