"""The preview image a link to a letter shows (og:image): 1200 x 630 PNG per letter and
text language, with the title, the addressees and the count band.

Typeset by WeasyPrint (Pango shapes Arabic, runs the bidi algorithm and falls back to
another installed font glyph by glyph, so "Meta" inside an Arabic title still shows),
then rasterised by poppler's pdftoppm. Pillow with raqm shapes Arabic too, but has no
font fallback: a Latin company name in an Arabic line came out as boxes.

Rendered by the job worker's sweep (petition.letters.milestones) and `letters sync`,
never in a request: when what the picture shows changed (a new text version, a corrected
translation, a new layout) or the count entered another band. Stored in the
database like the bundles (nothing lives on an app server's disk) and served under its
digest with a one-year immutable cache.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from petition import caching
from petition.database import writing
from petition.extensions import db
from petition.i18n import separators, text_direction
from petition.letters import services
from petition.letters.models import Letter, ShareImage
from petition.letters.progress import band as count_band

log = logging.getLogger("petition.letters")

WIDTH, HEIGHT = 1200, 630
CSS_FILE = Path(__file__).with_name("share_image.css")
PDFTOPPM_TIMEOUT = 60
_DIGESTS = "letters.share_digests"
DIGEST_CACHE_SECONDS = 10.0


class RenderError(RuntimeError):
    pass


def _no_fetching(url: str, *args, **kwargs):
    raise ValueError(f"the share image loads no resources ({url[:60]})")


def image_html(slug: str, lang: str, band: int) -> str:
    """The image's page: everything the picture shows (text version, translated words,
    addressees, band), so its hash says when the picture must be drawn again."""
    letter = services.loaded(slug)
    with force_locale(lang):
        return render_template("letters/share_image.html", letter=letter, text=letter.texts[lang], band=band,
                               lang=lang, lang_dir=text_direction(lang), **separators(lang))


def design_key(html: str) -> str:
    """The rendered page and the stylesheet, hashed: a corrected translation or a new
    layout renders the images again at the next sweep or sync, like a new text version."""
    return hashlib.sha256((html + "\x00" + CSS_FILE.read_text(encoding="utf-8")).encode("utf-8")).hexdigest()


def render_png(html: str) -> bytes:
    # Imported here, not at the top: WeasyPrint takes longer to import than Flask itself
    # (python -X importtime), and only rendering a share image needs it; a web worker never does.
    from weasyprint import CSS, HTML

    pdf = HTML(string=html, base_url=None, url_fetcher=_no_fetching).write_pdf(
        stylesheets=[CSS(string=CSS_FILE.read_text(encoding="utf-8"), url_fetcher=_no_fetching)])
    return rasterise(pdf)


def rasterise(pdf: bytes) -> bytes:
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise RenderError("pdftoppm is not installed (poppler-utils; scripts/system-deps.sh fonts)")
    with tempfile.TemporaryDirectory(prefix="share-image-") as tmp:
        source = Path(tmp) / "in.pdf"
        source.write_bytes(pdf)
        try:
            subprocess.run([tool, "-png", "-singlefile", "-scale-to-x", str(WIDTH), "-scale-to-y", str(HEIGHT),
                            str(source), str(Path(tmp) / "out")], check=True, capture_output=True,
                           timeout=PDFTOPPM_TIMEOUT)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RenderError(f"pdftoppm failed: {exc.__class__.__name__}") from None
        return (Path(tmp) / "out.png").read_bytes()


def refresh(session: Session, row: Letter, count: int) -> list[str]:
    """Render the images of this letter that are missing, of another band than `count`'s,
    or whose picture would differ (text version, translation, layout: design_key). Returns
    "slug/lang band" for each one rendered. A failed render is logged and skipped: the
    pages then simply have no og:image. Commits."""
    letter = services.loaded(row.slug)
    if letter is None:
        return []
    letter_id, slug, band = row.id, row.slug, count_band(count)
    stored = {image.lang: (image.band, image.version_hash)
              for image in session.scalars(select(ShareImage).where(ShareImage.letter_id == letter_id))}
    # Rendering takes seconds. On SQLite a read transaction held across it could not take
    # the write lock afterwards if anyone wrote meanwhile (its snapshot is stale: "database
    # is locked", at once). So the read ends before rendering, and the images are written
    # in a short transaction of their own that takes the write lock at BEGIN.
    session.commit()
    rendered: dict[str, tuple[str, bytes]] = {}
    for lang in letter.texts:
        html = image_html(slug, lang, band)
        key = design_key(html)
        if stored.get(lang) == (band, key):
            continue
        try:
            rendered[lang] = (key, render_png(html))
        except Exception as exc:  # a missing tool or font must not stop the sweep
            log.warning("share image %s/%s not rendered: %s", slug, lang, exc)
    if not rendered:
        return []
    with writing():
        images = {image.lang: image
                  for image in session.scalars(select(ShareImage).where(ShareImage.letter_id == letter_id))}
        for lang, (key, png) in rendered.items():
            image = images.get(lang)
            if image is None:
                image = ShareImage(letter_id=letter_id, lang=lang)
                session.add(image)
            image.band, image.version_hash, image.png = band, key, png
            image.digest = hashlib.sha256(png).hexdigest()[:32]
        session.commit()
    caching.cache(_DIGESTS).clear()
    return [f"{slug}/{lang} {band}" for lang in rendered]


def digests(letter_id: int) -> dict[str, str]:
    """{text language: digest} of the letter's images, cached per process for a few
    seconds: read once per letter-page render, never per signature."""
    def read() -> dict[str, str]:
        return dict(db.session.execute(
            select(ShareImage.lang, ShareImage.digest).where(ShareImage.letter_id == letter_id)).all())

    return caching.cache(_DIGESTS).get(letter_id, DIGEST_CACHE_SECONDS, read)


def stored(session: Session, letter_id: int, lang: str) -> ShareImage | None:
    return session.scalar(select(ShareImage).where(ShareImage.letter_id == letter_id, ShareImage.lang == lang))
