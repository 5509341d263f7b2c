"""Building, signing and delivering bundles; checking receipts. No Flask request in here.

build() runs in a job worker or the CLI, never in a web request (it takes seconds to a
minute and two processes). Its steps, in order:

1. spool: read every included signature (confirmed, not hidden; withdrawn ones no longer
   exist) by keyset batches; count by country; keep receipts and named rows on disk.
   Meanwhile a worker measures the front part's page count.
2. render: the front part (WeasyPrint) and the signatory chunks (fpdf2) in the bounded
   worker pool, each with its final "page X of Y".
3. join with pypdf, sign with pyHanko, hash, write the Bundle row, its receipts and the
   manifest, in the caller's transaction.

Decisions:
- Names: signers who chose "named" appear as bundle_name() makes them (full name, or
  initials if that is what they show publicly). Their affiliation is printed only for
  those who show their full name publicly: beside initials, an affiliation could
  identify someone who chose not to be identified.
- Receipts: the manifest and the receipt table hold the receipt hash of every included
  signature, named or counted only: the counted ones are part of the count the bundle
  states, and their receipts prove that.
- Deliveries (to whom, when, the public log) are petition.deliveries' business.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable, Iterator

from flask import current_app, render_template
from flask_babel import force_locale, format_date, format_decimal, gettext as _, ngettext
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from petition import countries
from petition.bundles import signing_keys, spool as spooling, storage
from petition.bundles.models import Bundle, BundleReceipt
from petition.bundles.pdf import annex, front
from petition.bundles.pdf.pool import Pool
from petition.console.models import User
from petition.i18n import separators, text_direction
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.models_common import utcnow
from petition.signing.services import normalise_receipt, receipt_hash

log = logging.getLogger("petition.bundles")

CHUNK_PAGES = 100
MANIFEST_FORMAT = "petition-bundle-manifest/1"
RECEIPT_FORMULA = 'sha256("receipt:" + receipt code in upper case without dashes or spaces), hex'

Progress = Callable[[int, str], None]


class BundleError(ValueError):
    """A build that cannot be made as asked; str() says why."""


@dataclass(frozen=True)
class Built:
    bundle: Bundle
    pdf: bytes
    manifest: str


# ---- the parts' content ----------------------------------------------------------------

def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _page_format() -> str:
    return _("page %(page)s of %(pages)s", page="{page}", pages="{pages}")


def _front_html(row: Letter, lang: str, *, bundle_id: str, built_at: datetime, counts: dict[str, int],
                total_pages: int, signer_name: str) -> tuple[str, str]:
    from petition.organisations.queries import approved

    letter = letters.loaded(row.slug)
    text = letter.texts[lang]
    page_format = _page_format()
    before, _sep, after = page_format.partition("{page}")
    css = render_template(
        "bundles/pdf/bundle.css",
        rtl=text_direction(lang) == "rtl",
        page_before=_css_string(before),
        page_after=_css_string(after.replace("{pages}", str(total_pages))),
        bundle_line=_css_string(bundle_id),
    )
    organisations = [
        {"name": org.name, "country": countries.name(org.country, lang) if org.country else ""}
        for org in approved(row.id)
    ]
    html = render_template(
        "bundles/pdf/front.html",
        lang=lang,
        lang_dir=text_direction(lang),
        **separators(lang),
        row=row,
        letter=letter,
        text=text,
        bundle_id=bundle_id,
        built_on=format_date(built_at.date(), "long"),
        counts={key: format_decimal(value) for key, value in counts.items()},
        raw_counts=counts,
        organisations=organisations,
        signer_name=signer_name,
        receipt_url=_receipt_url(lang),
    )
    return html, css


def _receipt_url(lang: str) -> str:
    from petition.web.urls import public_url

    try:
        return public_url("bundles.receipt", lang=lang)
    except Exception:  # noqa: BLE001 - the blueprint is not registered (tests of parts)
        return current_app.config["PETITION"].PUBLIC_URL


def _frame(lang: str, bundle_id: str, total_pages: int) -> annex.Frame:
    return annex.Frame(
        lang=lang,
        rtl=text_direction(lang) == "rtl",
        bundle_id=bundle_id,
        page_format=_page_format(),
        total_pages=total_pages,
        labels={
            "named_title": _("Individual signatories"),
            "countries_title": _("Signatures by country"),
            "number": _("No."),
            "name": _("Name"),
            "country": _("Country"),
            "affiliation": _("Affiliation"),
            "date": _("Signed on"),
            "count": _("Signatures"),
        },
    )


def _closing_lines(named: int, unnamed: int) -> list[str]:
    if unnamed and named:
        return [ngettext("and %(count)s more signatory who asked not to be named",
                         "and %(count)s more signatories who asked not to be named", unnamed,
                         count=format_decimal(unnamed))]
    if unnamed:
        return [ngettext("%(count)s signatory asked not to be named.",
                         "%(count)s signatories asked not to be named.", unnamed, count=format_decimal(unnamed))]
    if not named:
        return [_("No individual has signed yet.")]
    return []


def _country_rows(counts: dict[str, int], lang: str) -> list[tuple[str, str]]:
    from petition.console.stats import OTHER, group_small_counts

    rows = []
    for code, count in group_small_counts(dict(counts)):
        if code == OTHER:
            label = _("Other countries (fewer than %(n)s signatures each)", n=5)
        elif code == "ZZ":
            label = _("Country not given")
        else:
            label = countries.name(code, lang)
        rows.append((label, format_decimal(count)))
    return rows


def _named_tasks(spool: spooling.Spool, frame: annex.Frame, keys: list[str], first_page: int,
                 closing: list[str]) -> Iterator[dict]:
    per_chunk = CHUNK_PAGES * annex.ROWS_PER_PAGE
    page = first_page
    number = 1
    rows: list = []
    for record in spool.named:
        rows.append(record)
        if len(rows) == per_chunk:
            yield {"frame": frame, "keys": keys, "rows": rows, "first_page": page, "first_number": number}
            page += CHUNK_PAGES
            number += len(rows)
            rows = []
    if rows or closing:
        if rows and len(rows) + len(closing) > per_chunk:  # the closing line starts a page of its own
            yield {"frame": frame, "keys": keys, "rows": rows, "first_page": page, "first_number": number}
            page += annex.pages_for(len(rows))
            number += len(rows)
            rows = []
        yield {"frame": frame, "keys": keys, "rows": rows, "first_page": page, "first_number": number, "closing": closing}


# ---- the build ---------------------------------------------------------------------------

def build(session: Session, row: Letter, lang: str, *, built_by: User | None = None,
          progress: Progress | None = None, workers: int | None = None) -> Built:
    """Build, sign and store a bundle of row in lang. The caller commits."""
    import pypdf

    letter = letters.loaded(row.slug)
    if letter is None:
        raise BundleError(f"letter {row.slug!r} has no files")
    if lang not in letter.texts:
        raise BundleError(f"letter {row.slug!r} has no text in {lang!r} (it has {', '.join(letter.texts)})")
    config = current_app.config["PETITION"]
    signer = signing_keys.load_signer(config)  # fail early, before any work
    report = progress or (lambda percent, message="": None)
    workers = config.BUNDLE_WORKERS if workers is None else workers
    bundle_id = str(uuid.uuid4())
    built_at = utcnow()
    text = letter.texts[lang]
    initiators = len(letter.meta.initiators)
    from petition.organisations.queries import approved_count

    organisations = initiators + approved_count(row.id)
    signer_name = _certificate_name(signer)

    spool = None
    with force_locale(lang):
        try:
            report(1, "reading signatures")
            # WeasyPrint runs in a process of its own that ends before the signatory
            # pages start, so its memory never adds to theirs. The front part's page
            # count does not depend on the numbers on its cover: it is measured there
            # while the signatures are read.
            with Pool(min(workers, 1)) as front_pool:
                guess = {"individuals": 10**6, "organisations": organisations, "countries": 200}
                html, css = _front_html(row, lang, bundle_id=bundle_id, built_at=built_at, counts=guess,
                                        total_pages=99999, signer_name=signer_name)
                measured = front_pool.submit(front.measure, {"html": html, "css": css})
                expected = max(1, session.scalar(_count_query(row.id)) or 0)
                seen = [0]

                def read(n: int) -> None:
                    seen[0] += n
                    report(1 + min(24, 24 * seen[0] // expected), "reading signatures")

                spool = spooling.collect(session, row.id, progress=read)
                counts = {"individuals": spool.included, "organisations": organisations,
                          "countries": spool.country_total}
                closing = _closing_lines(spool.named.count, spool.counted_only)
                country_rows = _country_rows(spool.countries, lang)
                front_pages = measured.result()
                named_pages = annex.pages_for(spool.named.count + len(closing))
                total = front_pages + named_pages + annex.country_pages(len(country_rows))

                report(26, "rendering pages")
                html, css = _front_html(row, lang, bundle_id=bundle_id, built_at=built_at, counts=counts,
                                        total_pages=total, signer_name=signer_name)
                front_pdf, front_rendered = front_pool.submit(front.render, {"html": html, "css": css}).result()
            if front_rendered != front_pages:
                raise RuntimeError(f"front part has {front_rendered} pages, measured {front_pages}")

            frame = _frame(lang, bundle_id, total)
            keys = list(config.DATA_KEYS)
            chunk_count = max(1, -(-(spool.named.count + len(closing)) // (CHUNK_PAGES * annex.ROWS_PER_PAGE)))
            chunk_paths = []
            with Pool(workers) as pool:
                countries_future = pool.submit(annex.render_countries, {
                    "frame": frame, "rows": country_rows, "first_page": front_pages + named_pages + 1,
                    "note": _("Countries with fewer than %(n)s signatures are grouped, so that no one stands out.", n=5),
                })
                tasks = _named_tasks(spool, frame, keys, front_pages + 1, closing)
                for index, chunk in enumerate(pool.ordered(annex.render_named, tasks)):
                    path = os.path.join(spool.directory, f"chunk-{index:05d}.pdf")
                    with open(path, "wb") as handle:
                        handle.write(chunk)
                    chunk_paths.append(path)
                    report(27 + min(58, 58 * (index + 1) // chunk_count), "rendering pages")
                countries_pdf = countries_future.result()

            report(86, "joining parts")
            writer = pypdf.PdfWriter()
            writer.append(io.BytesIO(front_pdf))
            del front_pdf
            for path in chunk_paths:
                writer.append(path, import_outline=False)
            writer.append(io.BytesIO(countries_pdf), import_outline=False)
            with force_locale(lang):
                writer.add_outline_item(title=_("Individual signatories"), page_number=front_pages)
                writer.add_outline_item(title=_("Signatures by country"), page_number=front_pages + named_pages)
            writer.add_metadata({
                "/Title": text.front.title,
                "/Subject": _("Signatures delivered with the open letter"),
                "/Creator": "petition bundles",
                "/Producer": "WeasyPrint, fpdf2, pypdf, pyHanko",
            })
            if len(writer.pages) != total:
                raise RuntimeError(f"bundle has {len(writer.pages)} pages, expected {total}")
            joined = io.BytesIO()
            writer.write(joined)
            del writer
            unsigned = joined.getvalue()
            del joined

            report(92, "signing")
            pdf = signing_keys.sign_pdf(unsigned, signer, reason=_("Delivery of the open letter and its signatures"))
            del unsigned
            sha256 = hashlib.sha256(pdf).hexdigest()

            report(95, "storing")
            receipts = sorted(set(spool.receipts))
            manifest = json.dumps({
                "format": MANIFEST_FORMAT,
                "bundle_id": bundle_id,
                "letter": row.slug,
                "lang": lang,
                "title": text.front.title,
                "version_hash": text.version_hash,
                "built_at": built_at.isoformat(timespec="seconds"),
                "counts": {
                    "individuals": spool.included,
                    "named": spool.named.count,
                    "counted_only": spool.counted_only,
                    "organisations": organisations,
                    "countries": spool.country_total,
                },
                "pages": total,
                "pdf_sha256": sha256,
                "pdf_bytes": len(pdf),
                "signing_certificate_sha256": signing_keys.certificate_fingerprint(signer),
                "receipt_hash": RECEIPT_FORMULA,
                "receipts": receipts,
            }, ensure_ascii=False, indent=1)
            # End the read transaction, then write in one that takes SQLite's write lock at
            # BEGIN (a deferred one that read first could fail under WAL).
            session.commit()
            with _writing():
                bundle = Bundle(
                    id=bundle_id, letter_id=row.id, lang=lang, version_hash=text.version_hash, created_at=built_at,
                    built_by=built_by.id if built_by else None, sha256=sha256, pages=total, size_bytes=len(pdf),
                    manifest=manifest,
                )
                storage.store(session, bundle, io.BytesIO(pdf))
                _insert_receipts(session, bundle_id, receipts)
            log.info("bundle %s built: %s pages, %s signatures", bundle_id, total, spool.included)
            return Built(bundle, pdf, manifest)
        finally:
            if spool is not None:
                for path in (os.path.join(spool.directory, name) for name in os.listdir(spool.directory)):
                    if os.path.basename(path).startswith("chunk-"):
                        os.unlink(path)
                spooling.remove(spool)


def _writing():
    try:
        from petition.database import writing
    except ImportError:  # pragma: no cover - older tree without the SQLite recipe
        from contextlib import nullcontext

        return nullcontext()
    return writing()


def _count_query(letter_id: int):
    from sqlalchemy import func

    from petition.signing.models import Signature

    return select(func.count()).select_from(Signature).where(*spooling.included_signatures(letter_id))


def _insert_receipts(session: Session, bundle_id: str, receipts: list[str], batch: int = 5000) -> None:
    for start in range(0, len(receipts), batch):
        session.execute(insert(BundleReceipt), [
            {"bundle_id": bundle_id, "receipt_hash": value} for value in receipts[start:start + batch]
        ])


# ---- reading bundles ---------------------------------------------------------------------

def bundles_of(session: Session, letter_id: int) -> list[Bundle]:
    return list(session.scalars(select(Bundle).where(Bundle.letter_id == letter_id).order_by(Bundle.created_at.desc())))


def bundle_of(session: Session, letter_id: int, bundle_id: str) -> Bundle | None:
    bundle = session.get(Bundle, bundle_id)
    return bundle if bundle is not None and bundle.letter_id == letter_id else None


def pdf_chunks(session: Session, bundle: Bundle) -> Iterator[bytes]:
    """The stored PDF, decrypted chunk by chunk (for downloads of any size)."""
    return storage.pdf_chunks(session, bundle)


def pdf_bytes(session: Session, bundle: Bundle) -> bytes:
    return b"".join(storage.pdf_chunks(session, bundle))


def file_name(row: Letter, bundle: Bundle, suffix: str = ".pdf") -> str:
    return f"{row.slug}-{bundle.lang}-{bundle.created_at:%Y%m%d-%H%M}-{bundle.id[:8]}{suffix}"


# ---- receipts --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReceiptMatch:
    title: str
    title_lang: str
    addressee: str
    delivered_on: date
    sha256: str


def check_receipt(session: Session, code: str, lang: str) -> list[ReceiptMatch]:
    """The deliveries whose bundle included the signature with this receipt code.

    The same one query runs whatever the code (also malformed ones, hashed as typed), so
    a known and an unknown code cost the same; only delivered bundles are answered for."""
    hashed = receipt_hash(code if normalise_receipt(code) else "-")
    from petition.deliveries.models import Delivery
    from petition.deliveries.services import Addressee

    rows = session.execute(
        select(Delivery.company, Delivery.platform, Delivery.delivered_on, Bundle.sha256, Letter.slug)
        .join(Bundle, Bundle.id == Delivery.bundle_id)
        .join(BundleReceipt, BundleReceipt.bundle_id == Bundle.id)
        .join(Letter, Letter.id == Delivery.letter_id)
        .where(BundleReceipt.receipt_hash == hashed)
        .order_by(Delivery.delivered_on, Delivery.id)
    ).all()
    matches = []
    for company, platform, delivered_on, sha256, slug in rows:
        letter = letters.loaded(slug)
        text = letter.text_for(lang) if letter else None
        matches.append(ReceiptMatch(text.front.title if text else slug, text.lang if text else lang,
                                    Addressee(company, platform).label, delivered_on, sha256))
    return matches


def built_at_utc(bundle: Bundle) -> datetime:
    return bundle.created_at.astimezone(timezone.utc)


def _certificate_name(signer) -> str:
    subject = signer.signing_cert.subject.native
    parts = [subject.get("common_name"), subject.get("organization_name")]
    return " · ".join(str(p) for p in parts if p) or signer.signing_cert.subject.human_friendly
