"""Cover, letter and organisations: typeset by WeasyPrint from templates/bundles/pdf/.

The HTML arrives rendered (Jinja runs in the main process, with the app); this module only
lays it out, so it can run in a worker process. The page footer's total is written in as
text (counter(pages) would count this part only), so the pipeline first measures the
part's page count with the real layout, then renders it with the final total.

It is written as PDF/UA-1: tagged (a structure tree of headings, lists and paragraphs),
with the document's language and its title shown in the viewer's title bar. The joined
bundle keeps this part's catalogue, so the whole file says it is tagged and in which
language; the annex pages (drawn by fpdf2 for speed) carry no tags.
"""
from __future__ import annotations

import gc


def _no_fetching(url: str, *args, **kwargs):
    raise ValueError(f"the bundle loads no resources ({url[:60]})")


def _document(html: str, css: str):
    # Imported here, not at the top: WeasyPrint takes longer to import than Flask itself
    # (python -X importtime), and only a bundle build needs it; a web worker never does.
    from weasyprint import CSS, HTML

    return HTML(string=html, base_url=None, url_fetcher=_no_fetching).render(
        stylesheets=[CSS(string=css, url_fetcher=_no_fetching)])


def measure(task: dict) -> int:
    gc.disable()
    try:
        return len(_document(task["html"], task["css"]).pages)
    finally:
        gc.enable()
        gc.collect()


def render(task: dict) -> tuple[bytes, int]:
    gc.disable()
    try:
        document = _document(task["html"], task["css"])
        return document.write_pdf(pdf_variant="pdf/ua-1"), len(document.pages)
    finally:
        gc.enable()
        gc.collect()
