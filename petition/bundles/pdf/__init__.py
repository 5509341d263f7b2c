"""The bundle's PDF pipeline: why it is built the way it is.

A bundle is cover + letter + organisations (typeset by WeasyPrint), then the named
signatories, the paper signatures and the per-country table (drawn by fpdf2 with HarfBuzz
shaping), joined into a file by qpdf through pikepdf (joining.py) and signed last, file to file, with
pyHanko. Measured on this 2-core machine (see
../shared/PDF-NOTES.md and bench/bundle.py):

* WeasyPrint in one document grows faster than linearly (about 9 ms and 100 KB a row by
  50,000 rows: 100,000 would take a quarter of an hour and ~10 GB). Chunked WeasyPrint with
  two workers stays flat in memory but still needs ~330 s for 100,000 rows.
* ReportLab is fast but has no bidi algorithm of its own; its ``shapeStr`` shapes Arabic
  into presentation forms (extractable only after NFKC) and a name mixing scripts
  ("Karim الحداد") comes out in the wrong order without an extra bidi package.
* fpdf2 implements the Unicode bidi algorithm itself and shapes with HarfBuzz
  (``set_text_shaping``); extracted Arabic comes back in logical order (pypdf). But its
  ``cell()`` costs ~1.5 ms for each shaped cell (pure-Python bidi, fragment parsing,
  shaping twice, absolute text matrices per glyph): an Arabic bundle, where every row's
  country name is Arabic, took 96 s at 100,000 rows. So ``shaped.Shaper`` does the same
  steps for one line (fpdf2's bidi results, its fallback-font fragments, one HarfBuzz
  call per fragment, the same glyphs and operators) at ~0.1 ms, with positions relative
  to the line so that a country name or a label is shaped once per worker and reused;
  names are shaped every time (real names do not repeat). Plain Latin, Greek and
  Cyrillic is written directly, as ``FPDF.text()`` would. tests/bundles/test_shaped.py
  checks glyphs, fonts, order and widths against fpdf2's ``cell()``.
* The rows are split into chunks of whole pages rendered by a bounded pool of ``spawn``
  worker processes (two on two cores: BUNDLE_WORKERS); each worker stays ~80 MB whatever
  N is. Chunks carry their absolute page numbers ("page X of Y"): the total is known
  before any page is drawn, because every signatory row has a fixed height (long names
  are cut with an ellipsis) and the front part's page count is measured first.
* Signatures are read from the database by keyset pagination in batches (never all at
  once) into a temporary spool that holds only what the database holds (names stay
  Fernet tokens; the workers decrypt), so a withdrawal during a build cannot make the
  counts, the receipts and the pages disagree.

* Nothing of size N stays in the building process: rows and receipts go through spool
  files, chunks are written to disk as they come, the join and the signature read and
  write files, and the manifest's receipt list is streamed from bundle_receipts when it
  is downloaded. With pypdf joining in memory and the receipts sorted in memory, a
  million signatures peaked at 931-954 MB; see README for the figures now.

Result: time linear in N, memory flat in N (bench/bundle.py prints the figures).
"""
