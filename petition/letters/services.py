"""Letters at run time: the loaded files, their sync into the database, their counts.

Letters sit below the areas that collect signatures (signing, paper, organisations),
which import them; so letters never import those areas. They hear of a synced letter
through the `synced` signal and give the letter page their counts through
`register_signer_count`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from blinker import Namespace
from flask import Flask, current_app
from flask_babel import get_locale
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from petition import caching, i18n
from petition.extensions import db
from petition.letters.loader import LoadedLetter, load_all
from petition.letters.models import Letter, LetterVersion
from petition.letters.progress import progress as make_progress
from petition.models_common import utcnow

log = logging.getLogger("petition.letters")

EXTENSION_KEY = "petition.letters"
PUBLIC_STATUSES = ("open", "closed", "delivered")

_signals = Namespace()
# Sent with (session, letter_id=...) for each letter a sync writes, before it commits:
# areas that keep rows per letter (signing's counter shards) add theirs in the same
# transaction.
synced = _signals.signal("letter-synced")

# The kinds of signer a letter's counts add up, each counted by the area that collects
# them: "online" (signing: confirmed signatures), "paper" (paper: imported lists),
# "organizations" (organisations: approved co-signers, beside the file's initiators).
SIGNER_KINDS = ("online", "paper", "organizations")
_signer_counts: dict[str, Callable[[int], int]] = {}


def register_signer_count(kind: str, count: Callable[[int], int]) -> None:
    """Called by the area that counts `kind` when it is imported: count(letter_id) is
    the number of such signers of a letter, read in the current app's session."""
    if kind not in SIGNER_KINDS:
        raise ValueError(f"unknown kind of signer {kind!r}")
    _signer_counts[kind] = count


def _signers(kind: str, letter_id: int) -> int:
    try:
        count = _signer_counts[kind]
    except KeyError:
        raise LookupError(f"no area registered a count of {kind!r} signers (create_app imports them all)") from None
    return count(letter_id)


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"created letter {slug}" for slug in self.created]
        out += [f"updated letter {slug}" for slug in self.updated]
        out += [f"new text version {v}" for v in self.new_versions]
        return out or ["letters already in sync"]


def init_app(app: Flask) -> None:
    """Load and validate every letter file (a bad file stops start-up)."""
    app.extensions[EXTENSION_KEY] = load_all(app.config["PETITION"].LETTERS_DIR)
    i18n.register_letter_timezones(timezone_of)


def sync_at_start(app: Flask) -> None:
    """Sync the letter files into the database if its schema exists (before `db upgrade`
    there is nothing to sync; the schema gate syncs once it appears). Called once every
    area has connected to `synced`: a letter synced before signing had heard of it would
    have no counter shards, and its confirmations would count nowhere."""
    with app.app_context():
        try:
            if inspect(db.engine).has_table("letters") and inspect(db.engine).has_table("signature_counters"):
                sync(db.session, app.extensions[EXTENSION_KEY])
        except (OperationalError, ProgrammingError) as exc:  # database not reachable or not migrated
            db.session.rollback()
            log.warning("letters not synced at start-up: %s", exc.__class__.__name__)
        finally:
            db.session.remove()


def registry() -> dict[str, LoadedLetter]:
    return current_app.extensions[EXTENSION_KEY]


def reload() -> dict[str, LoadedLetter]:
    current_app.extensions[EXTENSION_KEY] = load_all(current_app.config["PETITION"].LETTERS_DIR)
    return registry()


def loaded(slug: str) -> LoadedLetter | None:
    return registry().get(slug)


def sync(session: Session, letters: dict[str, LoadedLetter], attempts: int = 3) -> SyncReport:
    """Bring the database in line with the files. Safe to run from several processes at
    once (each app server syncs at start-up): a lost race is retried."""
    for attempt in range(attempts):
        try:
            report = _sync_once(session, letters)
            session.commit()
            forget_rows()
            current_app.extensions.pop(_VERSIONS_KEY, None)
            return report
        except IntegrityError:
            session.rollback()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _sync_once(session: Session, letters: dict[str, LoadedLetter]) -> SyncReport:
    report = SyncReport()
    existing = {row.slug: row for row in session.scalars(select(Letter))}
    for slug, letter in letters.items():
        meta = letter.meta
        row = existing.get(slug)
        if row is None:
            row = Letter(slug=slug, status=meta.status, file_status=meta.status)
            session.add(row)
            report.created.append(slug)
        else:
            changed = row.file_status != meta.status
            if changed:
                # The file's status was edited since the last sync: it wins over the console.
                row.status = meta.status
                row.file_status = meta.status
                report.updated.append(slug)
        row.opens_on = meta.opens
        row.closes_on = meta.closes
        row.default_language = meta.default_language
        row.languages = ",".join(letter.languages)
        row.public_visibility_default = meta.public_visibility_default
        row.bundle_default = meta.bundle_default
        row.retention_days = meta.retention_days
        row.discreet_mail = meta.discreet_mail
        if row.file_goal != meta.goal:
            # The file's goal was edited since the last sync: it wins over a goal the
            # milestone sweep moved up (auto_goal).
            row.goal = meta.goal
            row.file_goal = meta.goal
        row.auto_goal = meta.auto_goal
        if row.status in ("closed", "delivered") and row.closed_at is None:
            row.closed_at = utcnow()
        session.flush()
        synced.send(session, letter_id=row.id)
        known = set(session.scalars(select(LetterVersion.version_hash).where(LetterVersion.letter_id == row.id)))
        for lang, text in letter.texts.items():
            if text.version_hash not in known:
                session.add(LetterVersion(letter_id=row.id, lang=lang, version_hash=text.version_hash, title=text.front.title))
                report.new_versions.append(f"{slug}/{lang} {text.version_hash[:12]}")
        session.flush()
    return report


def letter_row(slug: str) -> Letter | None:
    return db.session.scalar(select(Letter).where(Letter.slug == slug))


@dataclass(frozen=True)
class LetterSnapshot:
    """A read-only copy of a letter's row for public pages, which read it on every
    request but see it change only when a lead opens or closes the letter."""

    id: int
    slug: str
    status: str
    opens_on: date | None
    closes_on: date | None
    default_language: str
    languages: str
    public_visibility_default: str
    bundle_default: str
    retention_days: int
    discreet_mail: bool
    goal: int | None

    @property
    def language_list(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]


class LetterFacts(Protocol):
    """What reading a letter's state needs, whichever form the caller holds: the ORM row
    (Letter: consoles, workers, anything that changes it) or the per-process copy public
    pages read (LetterSnapshot). Both have these attributes; nothing here writes."""

    @property
    def id(self) -> int: ...
    @property
    def slug(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def opens_on(self) -> date | None: ...
    @property
    def closes_on(self) -> date | None: ...
    @property
    def goal(self) -> int | None: ...


_SNAPSHOT_FIELDS = [f for f in LetterSnapshot.__dataclass_fields__]
_SNAPSHOTS = "letters.snapshots"
_VERSIONS_KEY = "petition.letters.versions"


def public_row(slug: str) -> LetterSnapshot | None:
    """The letter's row as of at most LETTER_CACHE_SECONDS ago (per process and app).
    For reading only: anything that changes a letter uses letter_row()."""
    return _snapshot(slug, Letter.slug)


def timezone_of(slug: str) -> str | None:
    """The time zone a letter's dates and times are shown in (its letter.yaml)."""
    found = registry().get(slug)
    return found.meta.timezone if found else None


def public_letter(slug: str) -> tuple[LetterSnapshot, LoadedLetter] | None:
    """The letter's row and its files, if the public may see it (a page answers 404 on None)."""
    row = public_row(slug)
    letter = loaded(slug)
    if row is None or letter is None or row.status not in PUBLIC_STATUSES:
        return None
    return row, letter


def public_row_by_id(letter_id: int) -> LetterSnapshot | None:
    """public_row() for a letter known by its id (from a signature, say)."""
    return _snapshot(letter_id, Letter.id)


def _snapshot(key: str | int, column) -> LetterSnapshot | None:
    def read() -> LetterSnapshot | None:
        row = db.session.execute(select(*(getattr(Letter, name) for name in _SNAPSHOT_FIELDS)).where(column == key)).first()
        return LetterSnapshot(*row) if row is not None else None

    # Keyed by slug or by id: a letter's two keys never collide (str and int).
    return caching.cache(_SNAPSHOTS).get(key, current_app.config["PETITION"].LETTER_CACHE_SECONDS, read)


def forget_rows() -> None:
    """Drop this process's copies (after a status change or a sync)."""
    if current_app:
        caching.cache(_SNAPSHOTS).clear()


def is_signable(row: LetterFacts, today: date | None = None) -> bool:
    """Open, and within its dates if it has any."""
    today = today or date.today()
    if row.status != "open":
        return False
    if row.opens_on and today < row.opens_on:
        return False
    if row.closes_on and today > row.closes_on:
        return False
    return True


def known_version(row: LetterFacts, lang: str, version_hash: str) -> bool:
    if not version_hash or len(version_hash) != 64 or not all(c in "0123456789abcdef" for c in version_hash):
        return False  # not a SHA-256 hex digest (nor a NUL for PostgreSQL to refuse: found by tests/hostile)
    # A text version, once recorded, is never removed: positive answers are kept for
    # the life of the process, so a signature costs no lookup for the current text.
    known: set = current_app.extensions.setdefault(_VERSIONS_KEY, set())
    key = (row.id, lang, version_hash)
    if key in known:
        return True
    found = db.session.scalar(
        select(LetterVersion.id).where(
            LetterVersion.letter_id == row.id,
            LetterVersion.lang == lang,
            LetterVersion.version_hash == version_hash,
        )
    ) is not None
    if found:
        known.add(key)
    return found


def counts(row: LetterFacts) -> dict[str, int]:
    letter = loaded(row.slug)
    initiators = len(letter.meta.initiators) if letter else 0
    # Paper signatures are counted apart ("N online, M on paper") and in the total.
    online = _signers("online", row.id)
    paper = _signers("paper", row.id)
    return {"individuals": online + paper, "online": online, "paper": paper,
            "organizations": initiators + _signers("organizations", row.id)}


def progress(row: LetterFacts, counts_: dict[str, int]):
    """The letter's progress towards its goal (individual signatures), or None."""
    return make_progress(counts_["individuals"], row.goal)


def set_status(row: Letter, status: str) -> None:
    """A lead opens or closes a letter; closing starts the retention period."""
    if status not in ("draft", "open", "closed", "delivered"):
        raise ValueError(f"unknown status {status!r}")
    row.status = status
    forget_rows()
    if status in ("closed", "delivered") and row.closed_at is None:
        row.closed_at = utcnow()
    if status == "open":
        row.closed_at = None


def public_rows() -> list[Letter]:
    """Letters the public may see (not drafts), in the order of the files."""
    rows = {row.slug: row for row in db.session.scalars(select(Letter).where(Letter.status.in_(PUBLIC_STATUSES)))}
    return [rows[slug] for slug in registry() if slug in rows]


def public_summaries() -> list[dict]:
    lang = str(get_locale())
    summaries = []
    for row in public_rows():
        letter = loaded(row.slug)
        text = letter.text_for(lang)
        summaries.append({
            "slug": row.slug,
            "status": row.status,
            "title": text.front.title,
            "summary": text.front.summary,
            "text_lang": text.lang,
            "addressees": letter.meta.addressees,
            "counts": (row_counts := counts(row)),
            "progress": progress(row, row_counts),
            "signable": is_signable(row),
        })
    return summaries


def retention_overview() -> list[dict]:
    lang = str(get_locale())
    return [
        {"slug": row.slug, "title": loaded(row.slug).text_for(lang).front.title, "days": row.retention_days}
        for row in public_rows()
    ]
