"""Joining the bundle's parts into one PDF file, which pyHanko then signs from (the
joined and the signed bundle are never whole in memory as bytes).

The front part (WeasyPrint, PDF/UA) is qpdf's primary input, so its catalogue (structure
tree, /MarkInfo, /Lang, XMP metadata, outline) is the bundle's; the annex chunks' pages
are appended by qpdf's own page merging (QPDFJob, "qpdf front.pdf --pages . chunks --"),
which copies each page's content from its file while writing. A second, light pass adds
the sections' outline entries and the document information.

Measured on the 18,600 annex pages (186 chunks) of a million-signature bundle, CPU time
and peak RSS of a process doing only the join (bench: /tmp scripts, see README):
pypdf's PdfWriter 14 s and 391 MB (it holds every page as Python objects); pikepdf's
pages.extend() 294 MB but about 90 s (its appends grow faster than linearly); QPDFJob
1.5 s and 218 MB, the outline pass 0.8 s within the same memory.
"""
from __future__ import annotations

import os


def join(front_path: str, chunk_paths: list[str], output_path: str, *, sections: list[tuple[str, int]],
         info: dict[str, str]) -> int:
    """Write front + chunks to output_path, with an outline entry (title, 0-based page
    index) for each section and the given document information. Returns the page count."""
    # Imported here: only a bundle build needs pikepdf, not the web workers.
    import pikepdf

    merged = output_path + ".merged"
    pikepdf.Job(["qpdf", front_path, "--pages", ".", *chunk_paths, "--", merged]).run()
    try:
        with pikepdf.open(merged) as pdf:
            with pdf.open_outline() as outline:
                for title, page in sections:
                    outline.root.append(pikepdf.OutlineItem(title, page))
            for key, value in info.items():
                pdf.docinfo[key] = value
            pages = len(pdf.pages)
            pdf.save(output_path)
    finally:
        os.unlink(merged)
    return pages
