"""Joining the bundle's parts into one PDF, written to a file that pyHanko then signs
from (the joined and the signed bundle are never whole in memory as bytes).

The front part (WeasyPrint, PDF/UA) is the base document, cloned with its catalogue, so
its structure tree, /MarkInfo, /Lang, XMP metadata and outline are kept; the annex pages
are appended to it.

Measured (18,600 annex pages in 186 chunks of 100, the size of a million-signature
bundle): pypdf's writer holds every page object it appends, about 1.3 MB per chunk
(~290 MB at a million); pikepdf (qpdf) held as much and its appends grew faster than
linearly (about 90 s of CPU for the 186 chunks, against about 1.2 s for 30). A join that
streams pages to the output as it reads them would be flat; see README.
"""
from __future__ import annotations


def join(front_path: str, chunk_paths: list[str], output_path: str, *, sections: list[tuple[str, int]],
         info: dict[str, str]) -> int:
    """Write front + chunks to output_path, with an outline entry (title, 0-based page
    index) for each section and the given document information. Returns the page count."""
    import pypdf

    writer = pypdf.PdfWriter(clone_from=front_path)
    for path in chunk_paths:
        writer.append(path, import_outline=False)
    for title, page in sections:
        writer.add_outline_item(title=title, page_number=page)
    writer.add_metadata(info)
    pages = len(writer.pages)
    with open(output_path, "wb") as handle:
        writer.write(handle)
    return pages
