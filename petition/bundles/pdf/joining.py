"""Joining the bundle's parts into one PDF, file to file, with pikepdf (qpdf).

Measured (bench/bundle.py, a million signatures, 18,500 annex pages in 186 chunks):
pypdf's PdfWriter held every page object of every chunk as Python objects and wrote the
result to memory, and that copy was signed in memory too: the building process grew
with the letter's size. qpdf keeps a page as a few small C++ objects and copies each
content stream from its source file while writing, so the join stays small whatever
the number of pages, and the result goes straight to a file that pyHanko signs from.

The front part (WeasyPrint, PDF/UA) is the base document: its catalogue, and so its
structure tree, /MarkInfo, /Lang, XMP metadata and outline, are kept; the annex pages are
appended to it.
"""
from __future__ import annotations

from contextlib import ExitStack


def join(front_path: str, chunk_paths: list[str], output_path: str, *, sections: list[tuple[str, int]],
         info: dict[str, str]) -> int:
    """Write front + chunks to output_path, with an outline entry (title, 0-based page
    index) for each section and the given document information. Returns the page count."""
    import pikepdf

    with ExitStack() as stack:
        joined = stack.enter_context(pikepdf.open(front_path))
        for path in chunk_paths:
            part = stack.enter_context(pikepdf.open(path))
            joined.pages.extend(part.pages)
        with joined.open_outline() as outline:
            for title, page in sections:
                outline.root.append(pikepdf.OutlineItem(title, page))
        for key, value in info.items():
            joined.docinfo[key] = value
        pages = len(joined.pages)
        joined.save(output_path)
    return pages
