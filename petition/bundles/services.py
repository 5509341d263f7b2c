"""Building, signing and delivering bundles; checking receipts. No Flask request in here.

build() runs in a job worker or the CLI, never in a web request (it takes seconds to a
minute and two processes). Its steps, in order:

1. spool: stream every included signature (confirmed, not hidden; withdrawn ones no
   longer exist) and every paper signature from the database; count by country; keep
   receipts (as sorted runs) and named rows on disk. Meanwhile a worker measures the
   front part's page count.
2. render: the front part (WeasyPrint, tagged PDF/UA) and the signatory chunks (fpdf2) in
   the bounded worker pool, each with its final "page X of Y", chunks written to disk.
3. join into a file (pdf/joining.py: the front part's catalogue, so its tags and
   language, with the chunks' pages appended), sign file to file with pyHanko (with an RFC 3161 timestamp when BUNDLE_TSA_URL is
   set), hash, write the Bundle row and its receipts (streamed from the spool) in the
   caller's transaction. The manifest is stored without its receipt list, which
   manifest_chunks() streams from bundle_receipts: nothing of size N is held in memory.

Decisions:
- Names: what the bundle prints for a signer, and the grouping of small countries, are
  petition.disclosure's (printed(), group_small_counts(); the confirm page's preview
  calls the same rule).
- Paper signatures (petition.paper) are counted apart ("N online, M on paper") and listed
  in their own section with where and when they were collected; they have no receipts.
- Receipts: the manifest and the receipt table hold the receipt hash of every included
  signature, named or counted only: the counted ones are part of the count the bundle
  states, and their receipts prove that.
- Deliveries (to whom, when, the public log) are petition.deliveries' business.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator

from flask import current_app, render_template
from flask_babel import force_locale, format_date, format_decimal, gettext as _, ngettext
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from petition import countries, disclosure
from petition.accounts import User
from petition.bundles import signing_keys, spool as spooling, storage
from petition.bundles.models import Bundle, BundleReceipt
from petition.bundles.pdf import annex, front, joining
from petition.bundles.pdf.pool import Pool
from petition.database import writing
from petition.i18n import separators, text_direction
from petition.letters import services as letters
from petition.letters.models import Letter
from petition.models_common import utcnow
from petition.organisations.queries import approved_count, listed
from petition.signing.models import Signature
from petition.urls import public_url

log = logging.getLogger("petition.bundles")

CHUNK_PAGES = 100
MANIFEST_FORMAT = "petition-bundle-manifest/1"
RECEIPT_FORMULA = 'sha256("receipt:" + receipt code in upper case without dashes or spaces), hex'

Progress = Callable[[int, str], None]


class BundleError(ValueError):
    """A build that cannot be made as asked; str() says why."""


@dataclass(frozen=True)
class Built:
    """A stored bundle. Its PDF and full manifest are read from the database when asked
    for (a million-signature bundle is not kept in memory for the caller)."""

    bundle: Bundle
    session: Session

    @property
    def pdf(self) -> bytes:
        return pdf_bytes(self.session, self.bundle)

    @property
    def manifest(self) -> str:
        return "".join(manifest_chunks(self.session, self.bundle))


# ---- the parts' content ----------------------------------------------------------------

def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _page_format() -> str:
    return _("page %(page)s of %(pages)s", page="{page}", pages="{pages}")


def _front_html(row: Letter, lang: str, *, bundle_id: str, built_at: datetime, counts: dict[str, int],
                total_pages: int, signer_name: str, timestamp_authority: str) -> tuple[str, str]:
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
    # Initiators first, then co-signers in the order they were approved, each with the
    # website and statement their form promised would be "printed in the letter
    # delivered to the companies".
    organisations = [
        {"name": org.name, "country": countries.name(org.country, lang) if org.country and org.country != "ZZ" else "",
         "website": org.website or "", "statement": org.statement or "", "initiator": org.initiator}
        for org in listed(row.id, letter.meta.initiators)
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
        initiators=[org for org in organisations if org["initiator"]],
        organisations=[org for org in organisations if not org["initiator"]],
        signer_name=signer_name,
        timestamp_authority=timestamp_authority,
        receipt_url=_receipt_url(lang),
    )
    return html, css


def _receipt_url(lang: str) -> str:
    try:
        return public_url("deliveries.receipt", lang=lang)
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
            "paper_title": _("Signatures collected on paper"),
            "place": _("Where collected"),
            "collected": _("Collected on"),
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


def _paper_closing_lines(named: int, unnamed: int) -> list[str]:
    if unnamed:
        return [ngettext("and %(count)s more signatory on paper who asked not to be named",
                         "and %(count)s more signatories on paper who asked not to be named", unnamed,
                         count=format_decimal(unnamed))] if named else [
            ngettext("%(count)s signatory on paper asked not to be named.",
                     "%(count)s signatories on paper asked not to be named.", unnamed, count=format_decimal(unnamed))]
    return []


def _country_rows(counts: dict[str, int], lang: str) -> list[tuple[str, str]]:
    rows = []
    for code, count in disclosure.group_small_counts(dict(counts)):
        if code == disclosure.OTHER:
            label = _("Other countries (fewer than %(n)s signatures each)", n=disclosure.SMALL_GROUP)
        elif code == "ZZ":
            label = _("Country not given")
        else:
            label = countries.name(code, lang)
        rows.append((label, format_decimal(count)))
    return rows


def _chunk_tasks(records, frame: annex.Frame, keys: list[str], first_page: int,
                 closing: list[str]) -> Iterator[dict]:
    """The rows of one annex section in tasks of whole pages, with their first page and
    row numbers; the closing lines (if any) end the last one."""
    per_chunk = CHUNK_PAGES * annex.ROWS_PER_PAGE
    page = first_page
    number = 1
    rows: list = []
    for record in records:
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
          progress: Progress | None = None, workers: int | None = None, stamper=None) -> Built:
    """Build, sign and store a bundle of row in lang.

    Commits the caller's transaction once the signatures are read, so that the write
    that follows takes SQLite's write lock at BEGIN; the bundle's rows are then added in
    a new transaction, which the caller commits (with its audit record) or rolls back.

    stamper: a pyHanko TimeStamper to use instead of the one BUNDLE_TSA_URL configures
    (tests with an in-process authority)."""
    letter = letters.loaded(row.slug)
    if letter is None:
        raise BundleError(f"letter {row.slug!r} has no files")
    if lang not in letter.texts:
        raise BundleError(f"letter {row.slug!r} has no text in {lang!r} (it has {', '.join(letter.texts)})")
    config = current_app.config["PETITION"]
    signer = signing_keys.load_signer(config)  # fail early, before any work
    authority = config.BUNDLE_TSA_URL if stamper is None else getattr(stamper, "url", "local")
    stamper = stamper if stamper is not None else signing_keys.timestamper(config)
    roots = signing_keys.trust_roots(config)
    report = progress or (lambda percent, message="": None)
    workers = config.BUNDLE_WORKERS if workers is None else workers
    bundle_id = str(uuid.uuid4())
    built_at = utcnow()
    text = letter.texts[lang]
    initiators = len(letter.meta.initiators)
    organisations = initiators + approved_count(row.id)
    signer_name = _certificate_name(signer)
    timestamp_authority = authority if stamper is not None else ""

    def front_html(counts: dict[str, int], total_pages: int) -> tuple[str, str]:
        return _front_html(row, lang, bundle_id=bundle_id, built_at=built_at, counts=counts, total_pages=total_pages,
                           signer_name=signer_name, timestamp_authority=timestamp_authority)

    spool = None
    with force_locale(lang):
        try:
            report(1, "reading signatures")
            # WeasyPrint runs in a process of its own that ends before the signatory
            # pages start, so its memory never adds to theirs. The front part's page
            # count does not depend on the numbers on its cover: it is measured there
            # while the signatures are read.
            with Pool(min(workers, 1)) as front_pool:
                guess = {"individuals": 10**6, "online": 10**6, "paper": 10**6, "organisations": organisations,
                         "countries": 200}
                html, css = front_html(guess, 99999)
                measured = front_pool.submit(front.measure, {"html": html, "css": css})
                expected = max(1, session.scalar(_count_query(row.id)) or 0)
                seen = [0]

                def read(n: int) -> None:
                    seen[0] += n
                    report(1 + min(24, 24 * seen[0] // expected), "reading signatures")

                spool = spooling.collect(session, row.id, progress=read)
                counts = {"individuals": spool.included + spool.paper_included, "online": spool.included,
                          "paper": spool.paper_included, "organisations": organisations,
                          "countries": spool.country_total}
                closing = _closing_lines(spool.named.count, spool.counted_only)
                paper_closing = _paper_closing_lines(spool.paper.count, spool.paper_counted_only)
                country_rows = _country_rows(spool.countries, lang)
                front_pages = measured.result()
                named_pages = annex.pages_for(spool.named.count + len(closing))
                paper_pages = annex.pages_for(spool.paper.count + len(paper_closing)) if spool.paper_included else 0
                total = front_pages + named_pages + paper_pages + annex.country_pages(len(country_rows))

                report(26, "rendering pages")
                html, css = front_html(counts, total)
                front_pdf, front_rendered = front_pool.submit(front.render, {"html": html, "css": css}).result()
            if front_rendered != front_pages:
                raise RuntimeError(f"front part has {front_rendered} pages, measured {front_pages}")
            front_path = os.path.join(spool.directory, "front.pdf")
            with open(front_path, "wb") as handle:
                handle.write(front_pdf)
            del front_pdf

            frame = _frame(lang, bundle_id, total)
            keys = list(config.DATA_KEYS)
            chunk_count = -(-named_pages // CHUNK_PAGES) + -(-paper_pages // CHUNK_PAGES) + 1
            chunk_paths = []

            def store(chunk: bytes) -> None:
                path = os.path.join(spool.directory, f"chunk-{len(chunk_paths):05d}.pdf")
                with open(path, "wb") as handle:
                    handle.write(chunk)
                chunk_paths.append(path)
                report(27 + min(58, 58 * len(chunk_paths) // chunk_count), "rendering pages")

            with Pool(workers) as pool:
                countries_future = pool.submit(annex.render_countries, {
                    "frame": frame, "rows": country_rows, "first_page": front_pages + named_pages + paper_pages + 1,
                    "note": _("Countries with fewer than %(n)s signatures are grouped, so that no one stands out.",
                              n=disclosure.SMALL_GROUP),
                })
                for chunk in pool.ordered(annex.render_named,
                                          _chunk_tasks(spool.named, frame, keys, front_pages + 1, closing)):
                    store(chunk)
                if spool.paper_included:
                    for chunk in pool.ordered(annex.render_paper, _chunk_tasks(
                            spool.paper, frame, keys, front_pages + named_pages + 1, paper_closing)):
                        store(chunk)
                store(countries_future.result())

            report(86, "joining parts")
            sections = [(_("Individual signatories"), front_pages)]
            if spool.paper_included:
                sections.append((_("Signatures collected on paper"), front_pages + named_pages))
            sections.append((_("Signatures by country"), front_pages + named_pages + paper_pages))
            unsigned_path = os.path.join(spool.directory, "unsigned.pdf")
            pages = joining.join(front_path, chunk_paths, unsigned_path, sections=sections, info={
                "/Title": text.front.title,
                "/Subject": _("Signatures delivered with the open letter"),
                "/Creator": "petition bundles",
                "/Producer": "WeasyPrint, fpdf2, qpdf, pyHanko",
            })
            if pages != total:
                raise RuntimeError(f"bundle has {pages} pages, expected {total}")
            for path in chunk_paths:
                os.unlink(path)

            report(92, "signing")
            signed_path = os.path.join(spool.directory, "signed.pdf")
            with open(unsigned_path, "rb") as source, open(signed_path, "w+b") as output:
                try:
                    signed = signing_keys.sign_file(
                        source, output, signer, reason=_("Delivery of the open letter and its signatures"),
                        stamper=stamper, authority=authority, roots=roots)
                except signing_keys.TIMESTAMP_ERRORS as exc:
                    if stamper is None:
                        raise
                    raise BundleError(f"the timestamp authority {authority} did not give a timestamp "
                                      f"({type(exc).__name__}); no bundle was stored") from exc
            os.unlink(unsigned_path)
            sha256, size = _file_digest(signed_path)

            report(95, "storing")
            manifest = json.dumps({
                "format": MANIFEST_FORMAT,
                "bundle_id": bundle_id,
                "letter": row.slug,
                "lang": lang,
                "title": text.front.title,
                "version_hash": text.version_hash,
                "built_at": built_at.isoformat(timespec="seconds"),
                "counts": {
                    "individuals": spool.included + spool.paper_included,
                    "online": spool.included,
                    "named": spool.named.count,
                    "counted_only": spool.counted_only,
                    "paper": spool.paper_included,
                    "paper_named": spool.paper.count,
                    "organisations": organisations,
                    "countries": spool.country_total,
                },
                "pages": total,
                "pdf_sha256": sha256,
                "pdf_bytes": size,
                "signing_certificate_sha256": signing_keys.certificate_fingerprint(signer),
                "signature_level": signed.level,
                "timestamp": signed.timestamp.as_json() if signed.timestamp else None,
                "receipt_hash": RECEIPT_FORMULA,
            }, ensure_ascii=False, indent=1)
            # End the read transaction, then write in one that takes SQLite's write lock at
            # BEGIN (a deferred one that read first could fail under WAL).
            session.commit()
            with writing():
                bundle = Bundle(
                    id=bundle_id, letter_id=row.id, lang=lang, version_hash=text.version_hash, created_at=built_at,
                    built_by=built_by.id if built_by else None, sha256=sha256, pages=total, size_bytes=size,
                    manifest=manifest, signature_level=signed.level,
                    timestamped_at=signed.timestamp.time if signed.timestamp else None,
                    timestamp_authority=signed.timestamp.authority if signed.timestamp else None,
                )
                # Sealed chunk by chunk from the file: the PDF is never whole in memory.
                with open(signed_path, "rb") as handle:
                    storage.store(session, bundle, handle)
                os.unlink(signed_path)
                _insert_receipts(session, bundle_id, iter(spool.receipts))
            log.info("bundle %s built: %s pages, %s signatures, %s on paper", bundle_id, total, spool.included,
                     spool.paper_included)
            return Built(bundle, session)
        finally:
            if spool is not None:
                for name in os.listdir(spool.directory):
                    if name.endswith(".pdf"):
                        os.unlink(os.path.join(spool.directory, name))
                spooling.remove(spool)


def _file_digest(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def timestamp_of(bundle: Bundle) -> dict | None:
    """The bundle's trusted timestamp, for the delivery log and the console:
    {"time": ISO 8601 UTC, "authority": URL, "level": PAdES level}, or None when the
    bundle was signed without a timestamp authority."""
    if bundle.timestamped_at is None:
        return None
    return {"time": bundle.timestamped_at.astimezone(timezone.utc).isoformat(timespec="seconds"),
            "authority": bundle.timestamp_authority, "level": bundle.signature_level}


def _count_query(letter_id: int):
    return select(func.count()).select_from(Signature).where(*spooling.included_signatures(letter_id))


def _insert_receipts(session: Session, bundle_id: str, receipts: Iterator[str], batch: int = 5000) -> None:
    while rows := [{"bundle_id": bundle_id, "receipt_hash": value} for value in itertools.islice(receipts, batch)]:
        session.execute(insert(BundleReceipt), rows)


def manifest_chunks(session: Session, bundle: Bundle, batch: int = 5000) -> Iterator[str]:
    """The bundle's manifest as delivered, in pieces: the stored JSON with the sorted
    receipt hashes of bundle_receipts added as "receipts" (streamed, so a
    million-signature manifest is never one string in memory)."""
    head = bundle.manifest.rstrip()
    if not head.endswith("}") or '"receipts":' in head:  # a manifest stored whole (older bundles)
        yield head
        return
    yield head[:-1].rstrip() + ',\n "receipts": ['
    query = (select(BundleReceipt.receipt_hash).where(BundleReceipt.bundle_id == bundle.id)
             .order_by(BundleReceipt.receipt_hash))
    first = True
    result = session.execute(query.execution_options(stream_results=True, yield_per=batch))
    for rows in result.partitions(batch):
        piece = ",".join(f'\n  "{value}"' for (value,) in rows)
        yield piece if first else "," + piece
        first = False
    yield "\n ]\n}" if not first else "]\n}"


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




def _certificate_name(signer) -> str:
    subject = signer.signing_cert.subject.native
    parts = [subject.get("common_name"), subject.get("organization_name")]
    return " · ".join(str(p) for p in parts if p) or signer.signing_cert.subject.human_friendly
