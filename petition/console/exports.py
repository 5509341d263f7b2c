"""CSV export of a letter's public fields: exactly what the public page shows, no more
(petition.disclosure: EXPORT_HEADER, exported()).

Every cell that a spreadsheet could read as a formula (starting with = + - @, a tab or
a carriage return) is prefixed with a single quote, so opening the file runs nothing.
"""
from __future__ import annotations

import csv
import io
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from petition import disclosure
from petition.signing.models import Signature

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def public_rows(session: Session, letter_id: int) -> Iterator[tuple[str, str, str, str]]:
    """Confirmed, not hidden, listed signatures (those with a public name), oldest first,
    read in batches by id so a large letter never sits in memory."""
    after = 0
    while True:
        batch = session.execute(
            select(Signature.id, Signature.public_name, Signature.public_affiliation, Signature.country,
                   Signature.confirmed_at)
            .where(Signature.letter_id == letter_id, Signature.counted,
                   Signature.public_name.is_not(None), Signature.id > after)
            .order_by(Signature.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        for row in batch:
            yield disclosure.exported(row.public_name, row.public_affiliation, row.country, row.confirmed_at)
        after = batch[-1].id


def csv_lines(session: Session, letter_id: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(disclosure.EXPORT_HEADER)
    for row in public_rows(session, letter_id):
        writer.writerow([neutralise(cell) for cell in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
