"""Paper and offline signatures: a lead's CSV file, checked line by line, imported whole.

The file (UTF-8, comma- or semicolon-separated, a header line) has the columns
    name, country, bundle, collected_on, place
- name: the name as written on the sheet, or the initials the person gave (stored as a
  Fernet token, like every signer's name; printed in the bundle as given);
- country: an ISO 3166 code (LB, JO, ...), empty for "not given";
- bundle: "named" (printed in the bundle's paper section) or "counted" (counted only);
- collected_on: the day it was collected, YYYY-MM-DD;
- place: where it was collected (the provenance printed beside it).

parse() reports every problem with its line number, in the lead's language; import_rows()
refuses a file with any problem and otherwise adds every line in the caller's
transaction: a file is imported whole or not at all.
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from petition import audit, countries
from petition.crypto import encrypt
from petition.extensions import db
from petition.letters import services as letters
from petition.paper.models import PaperImport, PaperSignature
from petition.text import TextRejected, clean_line

COLUMNS = ("name", "country", "bundle", "collected_on", "place")
BUNDLE_VALUES = ("named", "counted")
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000
NAME_MAX = 200
PLACE_MAX = 200
# What is wrong with a typed cell: (characters not allowed, empty, too long), translated
# only when a line has that fault.
NAME_FAULTS = (_l("The name contains characters that are not allowed."),
               _l("The name is empty (write the name or the initials the person gave)."),
               _l("The name is longer than %(n)s characters.", n=NAME_MAX))
PLACE_FAULTS = (_l("The place contains characters that are not allowed."),
                _l("The place of collection is empty."),
                _l("The place is longer than %(n)s characters.", n=PLACE_MAX))


class ImportRefused(ValueError):
    """import_rows() was given a file with problems, or without the lead's consent."""


@dataclass(frozen=True)
class PaperRow:
    line: int
    name: str
    country: str
    bundle_visibility: str
    collected_on: date
    place: str


@dataclass(frozen=True)
class LineError:
    line: int  # 0: the file as a whole
    message: str


@dataclass
class Parsed:
    sha256: str
    rows: list[PaperRow] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.errors


def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _typed(raw: str, limit: int, faults: tuple, problem: Callable[[str], None]) -> str:
    """A typed cell cleaned like any text people type (text.clean_line), each fault it
    has reported through problem(); "" when it cannot be cleaned."""
    rejected, empty, too_long = faults
    cleaned = ""
    try:
        cleaned = clean_line(raw)
    except TextRejected:
        problem(str(rejected))
    if not raw:
        problem(str(empty))
    elif len(cleaned) > limit:
        problem(str(too_long))
    return cleaned


def parse(data: bytes, *, today: date | None = None) -> Parsed:
    """Check every line of a CSV file; messages are in the current locale."""
    parsed = Parsed(sha256=hashlib.sha256(data).hexdigest())
    if len(data) > MAX_BYTES:
        parsed.errors.append(LineError(0, _("The file is larger than %(mb)s MB.", mb=MAX_BYTES // (1024 * 1024))))
        return parsed
    text = _text(data)
    if text is None:
        parsed.errors.append(LineError(0, _("The file is not UTF-8 text. Save it as \"CSV UTF-8\" and try again.")))
        return parsed
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        parsed.errors.append(LineError(0, _("The file is empty.")))
        return parsed
    except csv.Error:
        parsed.errors.append(LineError(1, _("This line is not valid CSV.")))
        return parsed
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        parsed.errors.append(LineError(1, _("The header line lacks the columns: %(columns)s. It must name: %(all)s.",
                                            columns=", ".join(missing), all=", ".join(COLUMNS))))
        return parsed
    index = {name: header.index(name) for name in COLUMNS}
    today = today or date.today()
    known = countries.codes()
    line = 1
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(parsed.rows) + len(parsed.errors) >= MAX_ROWS:
                parsed.errors.append(LineError(line, _("A file can hold at most %(n)s signatures; split it.", n=MAX_ROWS)))
                break
            errors_before = len(parsed.errors)
            value = {name: cells[i].strip() if i < len(cells) else "" for name, i in index.items()}

            def problem(message: str) -> None:
                parsed.errors.append(LineError(line, message))

            name = _typed(value["name"], NAME_MAX, NAME_FAULTS, problem)
            country = value["country"].upper() or countries.UNKNOWN
            if country not in known:
                problem(_("\"%(value)s\" is not a country code (use two letters such as LB or JO, or leave it empty).",
                          value=value["country"][:20]))
            bundle = value["bundle"].lower()
            if bundle not in BUNDLE_VALUES:
                problem(_("The bundle column must be \"named\" or \"counted\", not \"%(value)s\".",
                          value=value["bundle"][:20]))
            collected_on = None
            try:
                collected_on = date.fromisoformat(value["collected_on"])
            except ValueError:
                problem(_("\"%(value)s\" is not a date; write it as YYYY-MM-DD.", value=value["collected_on"][:20]))
            else:
                if collected_on > today + timedelta(days=1):
                    problem(_("The date %(value)s is in the future.", value=value["collected_on"]))
            place = _typed(value["place"], PLACE_MAX, PLACE_FAULTS, problem)
            if len(parsed.errors) == errors_before:
                parsed.rows.append(PaperRow(line, name, country, bundle, collected_on, place))
    except csv.Error:
        parsed.errors.append(LineError(line + 1, _("This line is not valid CSV.")))
    if not parsed.rows and not parsed.errors:
        parsed.errors.append(LineError(0, _("The file has no signatures after its header line.")))
    return parsed


def import_rows(session: Session, letter_id: int, parsed: Parsed, *, actor, consent_statement: str,
                consent_given: bool) -> PaperImport:
    """Add every row of a file without problems, in the caller's transaction."""
    if not consent_given:
        raise ImportRefused("the consent statement was not confirmed")
    if not parsed.ok:
        raise ImportRefused("the file has problems")
    batch = PaperImport(letter_id=letter_id, imported_by=actor.id if actor else None, rows=len(parsed.rows),
                        file_sha256=parsed.sha256, consent_statement=consent_statement)
    session.add(batch)
    session.flush()
    for start in range(0, len(parsed.rows), 1000):
        session.execute(insert(PaperSignature), [
            {"letter_id": letter_id, "import_id": batch.id, "name_enc": encrypt(r.name), "country": r.country,
             "bundle_visibility": r.bundle_visibility, "collected_on": r.collected_on, "place": r.place}
            for r in parsed.rows[start:start + 1000]])
    audit.record(session, actor, "paper.import", letter_id, rows=len(parsed.rows), file_sha256=parsed.sha256)
    return batch


def paper_count(session: Session, letter_id: int) -> int:
    """Paper signatures of a letter: counted apart from online ones ("N online, M on paper").
    Summed over the letter's imports (each adds all its rows in one transaction, and rows
    are never deleted one by one), so the letter page does not COUNT a growing table."""
    return session.scalar(select(func.coalesce(func.sum(PaperImport.rows), 0))
                          .where(PaperImport.letter_id == letter_id)) or 0


letters.register_signer_count("paper", lambda letter_id: paper_count(db.session, letter_id))


def imports_of(session: Session, letter_id: int) -> list[PaperImport]:
    return list(session.scalars(select(PaperImport).where(PaperImport.letter_id == letter_id)
                                .order_by(PaperImport.created_at.desc(), PaperImport.id.desc())))
