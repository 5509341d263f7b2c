"""Synthetic confirmed signatures for demos and benchmarks (never in production).

Names mix Latin, Arabic and Greek scripts; every visibility choice and many countries
occur. Rows go in by COPY on PostgreSQL and executemany batches on SQLite, so a million
takes a minute or two, not an hour. A pool of a few thousand distinct names is encrypted
once and reused: synthetic rows need realistic tokens, not unique ones.
"""
from __future__ import annotations

import random
import secrets
from datetime import timedelta
from typing import Callable

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from petition import disclosure
from petition.crypto import encrypt
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.models_common import utcnow
from petition.signing import counters
from petition.signing.models import Signature

FIRST = [
    "Amal", "Karim", "Lina", "Omar", "Nour", "Sami", "Rania", "Youssef", "Maya", "Tarek",
    "Claire", "Julien", "Sophie", "Lucas", "Emma", "Hugo", "Anna", "David", "Sara", "Leila",
    "سارة", "محمد", "ليلى", "أحمد", "نور", "يوسف", "مريم", "علي", "هبة", "خالد", "رنا", "زينب",
    "Μαρία", "Γιώργος", "Ελένη", "Νίκος", "Κατερίνα", "Δημήτρης", "Σοφία", "Ανδρέας",
]
LAST = [
    "Haddad", "Khalil", "Mansour", "Saleh", "Nasser", "Aziz", "Farah", "Hamdan", "Martin",
    "Bernard", "Dubois", "Moreau", "Laurent", "Smith", "Okafor", "Garcia", "Rossi", "Novak",
    "الحداد", "خليل", "منصور", "صالح", "ناصر", "عبد الله", "الخطيب", "العلي", "حمدان", "يوسف",
    "Παπαδόπουλος", "Γεωργίου", "Νικολάου", "Οικονόμου", "Καραγιάννη", "Βλάχου",
]
AFFILIATIONS = [
    None, None, None, "Teacher", "Journalist", "Student", "Nurse", "Lawyer", "Engineer",
    "طالبة", "صحفي", "محامية", "ممرض", "Enseignante", "Étudiant", "Avocate", "Δημοσιογράφος", "Φοιτήτρια",
]
COUNTRIES = [
    "LB", "JO", "IQ", "SY", "EG", "TN", "MA", "DZ", "PS", "SA", "AE", "KW", "QA", "BH", "OM",
    "YE", "LY", "SD", "FR", "BE", "DE", "NL", "SE", "GB", "IE", "ES", "IT", "GR", "CY", "TR",
    "US", "CA", "BR", "MX", "ZA", "NG", "KE", "IN", "PK", "ID", "AU", "ZZ",
]


def fake(session: Session, row: Letter, count: int, *, seed: int | None = None,
         batch_size: int = 10_000, progress: Callable[[int], None] | None = None) -> int:
    """Insert count confirmed synthetic signatures into letter row; returns count."""
    rng = random.Random(seed)
    loaded = letters.loaded(row.slug)
    versions = {lang: text.version_hash for lang, text in loaded.texts.items()}
    langs = list(versions)
    # Encrypt a pool of names once; rows pick from it.
    pool = []
    for _ in range(min(4000, max(count, 1))):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        affiliation = rng.choice(AFFILIATIONS)
        # What the public list shows of this name for each choice, worked out once.
        shown = {public: disclosure.listed(name, affiliation, public) for public in disclosure.PUBLIC_ORDER}
        pool.append((encrypt(name), encrypt(affiliation) if affiliation else None, shown))
    now = utcnow()
    run = secrets.token_hex(4)
    # Fake names need no batching (signing/publication.py): they take their places in
    # the public list at once, after the names already there.
    rank = session.scalar(select(func.max(Signature.public_rank)).where(Signature.letter_id == row.id)) or 0
    dialect = session.get_bind().dialect.name
    done = 0
    while done < count:
        n = min(batch_size, count - done)
        rows = []
        for i in range(done, done + n):
            name_enc, affiliation_enc, shown = pool[rng.randrange(len(pool))]
            public = rng.choices(("full", "initials", "none"), weights=(3, 4, 3))[0]
            lang = rng.choice(langs)
            when = now - timedelta(seconds=rng.randrange(0, 30 * 86400))
            public_name, public_affiliation = shown[public]
            listed = public_name is not None
            rank += listed
            rows.append({
                "letter_id": row.id,
                "status": "confirmed",
                "email_hash": f"synthetic-{run}-{i:08d}",
                "email_enc": None,
                "name_enc": name_enc,
                "affiliation_enc": affiliation_enc,
                "public_name": public_name,
                "public_affiliation": public_affiliation,
                "country": rng.choice(COUNTRIES),
                "lang": lang,
                "public_visibility": public,
                "bundle_visibility": rng.choices(("named", "counted"), weights=(6, 4))[0],
                "updates_opt_in": False,
                "version_hash": versions[lang],
                "hidden": False,
                "created_at": when,
                "confirmed_at": when,
                "receipt_hash": secrets.token_hex(32),
                "synthetic": True,
                "public_rank": rank if listed else None,
                "published_on": now.date() if listed else None,
            })
        if dialect == "postgresql":
            _copy_rows(session, rows)
        else:
            session.execute(insert(Signature), rows)
        done += n
        if progress:
            progress(n)
    session.flush()
    counters.reconcile(session, row.id)
    return count


def _copy_rows(session: Session, rows: list[dict]) -> None:
    """COPY is several times faster than INSERT for bulk loads on PostgreSQL."""
    columns = list(rows[0])
    raw = session.connection().connection.driver_connection  # psycopg 3 connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY signatures ({', '.join(columns)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([r[c] for c in columns])
