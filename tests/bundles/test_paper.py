"""Paper signatures: the console's CSV import (preview, consent, line-by-line errors, all
or nothing), the public count, the bundle's paper section, names encrypted at rest."""
from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import func, select

from petition.bundles import services
from petition.crypto import decrypt
from petition.extensions import db
from petition.letters import services as letters
from petition.paper import services as paper
from petition.paper.models import PaperImport, PaperSignature
from tests.bundles.conftest import add_signature, pdf_text, squash
from tests.bundles.test_web import login
from tests.helpers import csrf_token, database_dump

BASE = "/{lang}/console/letters/secure-our-socials/paper"
GOOD = ("name,country,bundle,collected_on,place\n"
        "Nadia Rahal,LB,named,2026-03-08,\"Beirut, 8 March march\"\n"
        "سارة خليل,JO,named,2026-03-09,عمّان\n"
        "M. K.,,counted,2026-03-09,Amman\n")
BAD = ("name,country,bundle,collected_on,place\n"
       "Nadia Rahal,LB,named,2026-03-08,Beirut\n"
       ",XX,maybe,08/03/2026,\n"
       "Omar,JO,named,2999-01-01,Amman\n")


def upload(client, lang: str, data: str | bytes):
    page = client.get(BASE.format(lang=lang))
    assert page.status_code == 200
    body = data.encode("utf-8") if isinstance(data, str) else data
    return client.post(BASE.format(lang=lang) + "/preview", data={
        "csrf_token": csrf_token(page.text), "file": (io.BytesIO(body), "paper.csv")},
        content_type="multipart/form-data")


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}"[^>]*value="([^"]*)"', html).group(1)


def stored() -> int:
    return db.session.scalar(select(func.count()).select_from(PaperSignature))


def test_a_file_with_errors_is_listed_line_by_line_and_nothing_is_imported(bundle_app):
    client = bundle_app.test_client()
    login(client, bundle_app)
    response = upload(client, "fr", BAD)
    assert response.status_code == 400
    text = response.text
    # every problem, with its line, in the lead's language
    assert "Ligne 3" in text and "Ligne 4" in text and "Ligne 2" not in text
    assert "« XX » n’est pas un code de pays" in text or "XX" in text and "code de pays" in text
    assert "named" in text and "counted" in text  # the bundle column's allowed values
    assert "AAAA-MM-JJ" in text and "dans le futur" in text and "lieu" in text
    assert 'name="consent"' not in text  # no way to import a file with problems
    assert stored() == 0
    # posting the rejected file to the import step anyway changes nothing
    forged = client.post(BASE.format(lang="en") + "/import", data={
        "csrf_token": csrf_token(text), "csv_data": __import__("base64").b64encode(BAD.encode()).decode(), "consent": "y"})
    assert forged.status_code == 400 and stored() == 0


@pytest.mark.parametrize("data, message", [
    (b"\xff\xfe n\x00a\x00", "not UTF-8"),
    (b"nom,pays\nA,LB\n", "lacks the columns"),
    (b"", "The file is empty"),
    (b"name,country,bundle,collected_on,place\n", "no signatures"),
])
def test_files_that_cannot_be_read_are_refused_with_a_reason(bundle_app, data, message):
    client = bundle_app.test_client()
    login(client, bundle_app)
    response = upload(client, "en", data)
    assert response.status_code == 400 and message in response.text
    assert stored() == 0


def test_a_good_file_is_previewed_then_imported_only_with_the_consent(bundle_app):
    add_signature("Amal Haddad")
    client = bundle_app.test_client()
    user = login(client, bundle_app)
    preview = upload(client, "en", GOOD)
    assert preview.status_code == 200
    assert "Nadia Rahal" in preview.text and "سارة خليل" in preview.text and "Beirut, 8 March march" in preview.text
    assert "3 signatures are ready to import" in preview.text
    assert stored() == 0  # the preview stores nothing

    form = {"csrf_token": csrf_token(preview.text), "csv_data": hidden(preview.text, "csv_data")}
    refused = client.post(BASE.format(lang="en") + "/import", data=form)
    assert refused.status_code == 400 and "Please confirm the statement" in refused.text
    assert stored() == 0

    done = client.post(BASE.format(lang="en") + "/import", data={**form, "consent": "y"})
    assert done.status_code == 303
    rows = list(db.session.scalars(select(PaperSignature).order_by(PaperSignature.id)))
    assert [(decrypt(r.name_enc), r.country, r.bundle_visibility, r.place) for r in rows] == [
        ("Nadia Rahal", "LB", "named", "Beirut, 8 March march"), ("سارة خليل", "JO", "named", "عمّان"),
        ("M. K.", "ZZ", "counted", "Amman")]
    batch = db.session.scalar(select(PaperImport))
    assert batch.rows == 3 and batch.imported_by == user.id and "signed this letter on paper" in batch.consent_statement

    # counted apart: "N online, M on paper", on the letter page and in the API
    public = bundle_app.test_client()
    counts = public.get("/api/v1/letters/secure-our-socials").json["counts"]
    assert counts["individuals"] == 4 and counts["online"] == 1 and counts["paper"] == 3
    page = public.get("/en/letters/secure-our-socials/")
    assert "1 online, 3 on paper" in page.text
    # the names are never on a public page
    assert "Nadia" not in page.text and "سارة" not in page.text


def test_paper_names_are_encrypted_at_rest(bundle_app):
    client = bundle_app.test_client()
    login(client, bundle_app)
    preview = upload(client, "en", GOOD)
    client.post(BASE.format(lang="en") + "/import", data={
        "csrf_token": csrf_token(preview.text), "csv_data": hidden(preview.text, "csv_data"), "consent": "y"})
    assert stored() == 3
    blob = database_dump(bundle_app)  # the SQLite file and its WAL, or pg_dump's rows
    assert b"paper_signatures" in blob  # the table was in what was read: not an empty file
    for name in ("Nadia Rahal", "Nadia", "Rahal"):
        assert name.encode() not in blob
    assert "سارة".encode() not in blob


def test_a_failure_half_way_leaves_nothing_imported(bundle_app, monkeypatch):
    rows = "\n".join(f"Person {i},LB,named,2026-03-08,Beirut" for i in range(2500))
    parsed = paper.parse(("name,country,bundle,collected_on,place\n" + rows).encode())
    assert parsed.ok and len(parsed.rows) == 2500
    calls = [0]
    real = paper.encrypt

    def failing(value):
        calls[0] += 1
        if calls[0] == 2100:  # in the third batch of inserts
            raise RuntimeError("disk full")
        return real(value)

    monkeypatch.setattr(paper, "encrypt", failing)
    row = letters.letter_row("secure-our-socials")
    with pytest.raises(RuntimeError):
        paper.import_rows(db.session, row.id, parsed, actor=None, consent_statement="x", consent_given=True)
    db.session.rollback()
    assert stored() == 0 and db.session.scalar(select(func.count()).select_from(PaperImport)) == 0


def test_import_needs_a_lead_of_the_letter(bundle_app):
    other = bundle_app.test_client()
    login(other, bundle_app, slugs=("protect-women-hrds",))
    assert other.get(BASE.format(lang="en")).status_code == 404
    anonymous = bundle_app.test_client()
    assert anonymous.get(BASE.format(lang="en")).status_code in (302, 401)
    assert anonymous.post(BASE.format(lang="en") + "/import", data={"consent": "y"}).status_code in (302, 400, 401)
    assert stored() == 0


def _import(text: str) -> None:
    row = letters.letter_row("secure-our-socials")
    paper.import_rows(db.session, row.id, paper.parse(text.encode()), actor=None, consent_statement="x",
                      consent_given=True)
    db.session.commit()


def test_the_bundle_lists_paper_signatures_in_their_own_section(bundle_app):
    add_signature("Amal Haddad", country="LB")
    add_signature("Omar Saleh", bundle="counted", country="EG")
    _import(GOOD)
    built = services.build(db.session, letters.letter_row("secure-our-socials"), "en")
    db.session.commit()
    pages = pdf_text(built.pdf)
    text = squash(" ".join(pages))
    assert "2 online, 3 on paper" in text
    paper_pages = [p for p in pages if "Signatures collected on paper" in p]
    assert paper_pages, "no paper section"
    section = squash(" ".join(paper_pages))
    assert "Nadia Rahal" in section and "Beirut, 8 March march" in section and "2026-03-08" in section
    assert "M. K." not in section, section
    assert "and 1 more signatory on paper who asked not to be named" in section
    assert "Amal Haddad" not in section  # online signers stay in their own section
    manifest = json.loads(built.manifest)
    assert manifest["counts"]["paper"] == 3 and manifest["counts"]["paper_named"] == 2
    assert manifest["counts"]["individuals"] == 5 and manifest["counts"]["online"] == 2
    # section order: online names, paper, countries; page numbers run through
    order = [i for i, p in enumerate(pages) if "Individual signatories" in p][:1] + \
        [i for i, p in enumerate(pages) if "Signatures collected on paper" in p][:1] + \
        [i for i, p in enumerate(pages) if "Signatures by country" in p][:1]
    assert order == sorted(order) and len(order) == 3
    assert f"page {len(pages)} of {len(pages)}" in squash(pages[-1])



def test_rotating_data_keys_re_encrypts_paper_names(bundle_app):
    """After a rotation the old key can be dropped: paper names stay readable (and the
    bundle still prints them)."""
    from cryptography.fernet import Fernet

    from petition.privacy.services import rotate_keys

    _import("name,country,bundle,collected_on,place\nNadia Rahal,LB,named,2026-03-08,Beirut\n")
    config = bundle_app.config["PETITION"]
    old = list(config.DATA_KEYS)
    config.DATA_KEYS = [Fernet.generate_key().decode()] + old
    try:
        done = rotate_keys(db.session)
        db.session.commit()
        assert done["paper_signatures"] == 1
        config.DATA_KEYS = config.DATA_KEYS[:1]  # the old key is dropped
        db.session.expire_all()
        token = db.session.scalar(select(PaperSignature.name_enc))
        assert decrypt(token) == "Nadia Rahal"
        assert "Nadia Rahal" in squash(" ".join(pdf_text(services.build(
            db.session, letters.letter_row("secure-our-socials"), "en").pdf)))
    finally:
        config.DATA_KEYS = old
