"""Fixtures for bundle tests: an app with its own signing key, signatures made through
the real services, PDF text extraction."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pytest

from petition import disclosure
from petition.crypto import encrypt
from petition.extensions import db
from petition.letters import services as letters
from petition.models_common import utcnow
from petition.signing import counters
from petition.signing.models import Signature
from petition.signing.services import email_hash, receipt_code, receipt_hash


@pytest.fixture
def bundle_app(make_app, tmp_path):
    from petition.bundles import signing_keys

    app = make_app(BUNDLE_PKCS12_PATH=str(tmp_path / "keys" / "signing.p12"), BUNDLE_WORKERS=0)
    with app.app_context():
        signing_keys.init_keys(app.config["PETITION"], "Test campaign signer", "Test campaign")
        yield app
        db.session.remove()


@dataclass
class Signer:
    id: int
    name: str
    code: str


_counter = [0]


def add_signature(name: str, *, slug: str = "secure-our-socials", public: str = "full", bundle: str = "named",
                  country: str = "LB", affiliation: str | None = None, status: str = "confirmed",
                  hidden: bool = False) -> Signer:
    """A signature as sign() + confirm() leave it (tokens encrypted, receipt hashed)."""
    row = letters.letter_row(slug)
    text = letters.loaded(slug).texts["en"]
    _counter[0] += 1
    code = receipt_code()
    public_name, public_affiliation = disclosure.listed(name, affiliation, public)
    sig = Signature(
        letter_id=row.id, status=status, email_hash=email_hash(row.id, f"person{_counter[0]}@example.org"),
        email_enc=encrypt(f"person{_counter[0]}@example.org"), name_enc=encrypt(name),
        affiliation_enc=encrypt(affiliation) if affiliation else None,
        public_name=public_name, public_affiliation=public_affiliation,
        country=country, lang="en", public_visibility=public, bundle_visibility=bundle, version_hash=text.version_hash,
        hidden=hidden, confirmed_at=utcnow() if status == "confirmed" else None, receipt_hash=receipt_hash(code),
    )
    db.session.add(sig)
    db.session.flush()
    if status == "confirmed" and not hidden:
        counters.add(db.session, row.id, sig.id, +1)
    db.session.commit()
    return Signer(sig.id, name, code)


def pdf_text(pdf: bytes) -> list[str]:
    import pypdf

    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)
