"""The signatory pages (named individuals, then counts by country), drawn with fpdf2.

Every page is the same grid: a heading, column titles, ROWS_PER_PAGE rows of fixed
height, a footer with the bundle id and "page X of Y". Fixed rows are what let the
pipeline know the page count before drawing, so chunks rendered by different processes
carry their final page numbers. Text that needs bidi or shaping (see fonts.COMPLEX) is
set by shaped.Shaper (fpdf2's bidi, HarfBuzz shaping, fallback fonts; what FPDF.cell()
with text shaping draws, at a tenth of the cost, countries and labels shaped once); plain
Latin, Greek and Cyrillic is written as FPDF.text() writes it.

Everything here is plain Python data in and PDF bytes out: it runs in `spawn` worker
processes with no Flask application.
"""
from __future__ import annotations

import functools
import gc
import math
from dataclasses import dataclass, field

from petition import disclosure
from petition.bundles.pdf import fonts, shaped
from petition.countries import name as country_name
from petition.crypto import fernet_for

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 15.0
ROW_H = 4.6
ROWS_PER_PAGE = 54
HEAD_Y = 13.0
COLUMNS_Y = 21.0
ROWS_Y = 27.0
FOOTER_Y = 284.0
SIZE = 8.0
ARABIC_SIZE = 8.5
# A worst-case glyph width at SIZE, in mm: text shorter than width / this always fits.
WIDEST = 2.9

# (key, width in mm, numeric)
NAMED_COLUMNS = (("number", 14.0, True), ("name", 62.0, False), ("country", 34.0, False),
                 ("affiliation", 50.0, False), ("date", 20.0, True))
PAPER_COLUMNS = (("number", 14.0, True), ("name", 56.0, False), ("country", 34.0, False),
                 ("place", 56.0, False), ("collected", 20.0, True))
COUNTRY_COLUMNS = (("country", 110.0, False), ("count", 40.0, True))


@dataclass(frozen=True)
class Frame:
    """What every page of one bundle shares: language, direction, localised labels."""

    lang: str
    rtl: bool
    bundle_id: str
    page_format: str  # "page {page} of {pages}", localised
    total_pages: int
    labels: dict[str, str] = field(default_factory=dict)  # column keys and section titles


def pages_for(items: int) -> int:
    return max(1, math.ceil(items / ROWS_PER_PAGE))


class _Writer:
    """One fpdf2 document. fpdf2's current font is always "latin" (plain text); shaped
    lines set their own fonts inside q … Q."""

    def __init__(self, frame: Frame):
        # Imported here: fpdf2 is slow to import and only the annex's render processes need it.
        from fpdf import FPDF

        self.frame = frame
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_auto_page_break(False)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_creator("petition bundle")
        pdf.set_lang(frame.lang)
        pdf.set_compression(True)
        pdf.c_margin = 0.75
        # fpdf2 keeps one glyph subset per font: a font used both with and without
        # shaping mixes glyph ids and characters up, so shaped text gets its own copy.
        # Regular weights only (each font costs a worker ~5 MB); headings stand out by
        # size and a shaded band instead of weight.
        latin = fonts.required_file(fonts.LATIN)
        pdf.add_font("latin", "", latin)
        pdf.add_font("latin-shaped", "", latin)
        pdf.add_font("arabic", "", fonts.required_file(fonts.ARABIC))
        self.extra: list[str] = []
        self._extra_cover: list[tuple[str, frozenset[int]]] = []
        self._latin_cover = fonts.coverage(fonts.required_file(fonts.LATIN))
        self._arabic_cover = fonts.coverage(fonts.required_file(fonts.ARABIC))
        self.pdf = pdf
        self.mode: float | None = None  # the size "latin" is set at, for plain text
        self._encoded: dict[str, str] = {}  # plain text that repeats -> its PDF string
        self.shaper = shaped.Shaper(pdf)

    # -- fonts ------------------------------------------------------------------------

    def _extra_fonts_for(self, text: str) -> list[str]:
        """Register, once, an installed Noto font for characters neither main font has."""
        missing = {ord(ch) for ch in text if ord(ch) not in self._latin_cover and ord(ch) not in self._arabic_cover
                   and not ch.isspace()}
        if not missing:
            return []
        for family in fonts.EXTRA:
            name = "x" + str(fonts.EXTRA.index(family))
            if name in self.extra:
                continue
            path = fonts.font_file(family)
            if path is None:
                continue
            cover = fonts.coverage(path)
            if missing & cover:
                self.pdf.add_font(name, "", path)
                self.extra.append(name)
                self._extra_cover.append((name, cover))
                missing -= cover
            if not missing:
                break
        return self.extra

    def _fonts_for(self, text: str) -> tuple[str, list[str], float] | None:
        """None for plain text (Latin, Greek, Cyrillic: set as it comes, no shaping);
        otherwise the main font, its fallbacks and the size for shaped text."""
        if not fonts.COMPLEX.search(text):
            return None
        if fonts.ARABIC_SCRIPT.search(text):
            return "arabic", ["latin-shaped", *self._extra_fonts_for(text)], ARABIC_SIZE
        return "latin-shaped", ["arabic", *self._extra_fonts_for(text)], SIZE

    def _plain(self, size: float = SIZE) -> None:
        if self.mode != size:
            self.pdf.set_font("latin", "", size)
            self.mode = size

    # -- drawing -----------------------------------------------------------------------

    def _width(self, text: str) -> float:
        """Width of plain text in "latin" at the current size, as FPDF.get_string_width()
        computes it without shaping (no character spacing or stretching here)."""
        pdf = self.pdf
        cw = pdf.current_font.cw
        return sum(cw[ord(ch)] for ch in text) * pdf.font_size_pt * 0.001 / pdf.k

    def _fit(self, text: str, width: float) -> str:
        """Cut plain text with an ellipsis so that it fits on its one line."""
        room = width - 1.5
        if len(text) * WIDEST <= room:
            return text
        if self._width(text) <= room:
            return text
        low, high = 0, len(text)
        while low < high:
            mid = (low + high + 1) // 2
            if self._width(text[:mid].rstrip() + "…") <= room:
                low = mid
            else:
                high = mid - 1
        return text[:low].rstrip() + "…"

    def _fit_shaped(self, text: str, width: float, main: str, fallbacks: list[str], size: float,
                    cache: bool) -> shaped.Line:
        """The shaped line of text, cut with an ellipsis so that it fits on its one line."""
        room = width - 1.5
        line = self.shaper.line(text, main, fallbacks, size, cache=cache)
        if line.width <= room:
            return line
        low, high = 0, len(text)
        best = None
        while low < high:
            mid = (low + high + 1) // 2
            candidate = self.shaper.line(text[:mid].rstrip() + "…", main, fallbacks, size)
            if candidate.width <= room:
                low, best = mid, candidate
            else:
                high = mid - 1
        return best if best is not None else self.shaper.line("…", main, fallbacks, size)

    def _x(self, offset: float, width: float) -> float:
        return PAGE_W - MARGIN - offset - width if self.frame.rtl else MARGIN + offset

    def text(self, offset: float, y: float, width: float, text: str, *, numeric: bool = False,
             large: bool = False, height: float = ROW_H, cache: bool = False) -> None:
        """One line of text in a cell of the grid, placed as FPDF.cell(width, height, text)
        would place it. Plain text goes through FPDF.text() at a computed position (a
        seventh of the cost of FPDF.cell()); text that needs bidi or shaping through the
        Shaper, cached when the caller says the text repeats (countries, labels)."""
        if not text:
            return
        end_aligned = (not numeric) if self.frame.rtl else numeric
        x = self._x(offset, width)
        spec = self._fonts_for(text)
        if spec is not None:
            main, fallbacks, size = spec
            if large:
                line = self.shaper.line(text, main, fallbacks, 11, cache=cache)
            else:
                line = self._fit_shaped(text, width, main, fallbacks, size, cache)
            self.shaper.draw(line, x, y, width, height, end_aligned, self.pdf.c_margin)
            return
        if large:
            self._plain(11)
            self.pdf.set_xy(x, y)
            self.pdf.cell(width, height, text, align="R" if end_aligned else "L")
            self._plain(SIZE)
            return
        self._plain()
        text = self._fit(text, width)
        if end_aligned:
            x += width - 0.75 - self._width(text)
        else:
            x += 0.75
        self._draw_plain(x, y + height * 0.72, text, cache)

    def _draw_plain(self, x: float, y: float, text: str, cache: bool) -> None:
        """What FPDF.text(x, y, text) writes (fill mode, no underline), without its
        per-call checks; the encoded string is cached for text that repeats."""
        pdf = self.pdf
        if not pdf.current_font_is_set_on_page:
            pdf._out(pdf._set_font_for_page(pdf.current_font, pdf.font_size_pt))
        code = self._encoded.get(text) if cache else None
        if code is None:
            code = pdf.current_font.encode_text(text)
            if cache:
                if len(self._encoded) > 4096:
                    self._encoded.clear()
                self._encoded[text] = code
        k = pdf.k
        op = f"BT {x * k:.2f} {(pdf.h - y) * k:.2f} Td {code} ET"
        if pdf.fill_color != pdf.text_color:
            op = f"q {pdf.text_color.serialize().lower()} {op} Q"
        pdf._out(op)

    def page(self, number: int, title: str, columns) -> None:
        pdf = self.pdf
        pdf.add_page()
        width = PAGE_W - 2 * MARGIN
        pdf.set_fill_color(225)
        pdf.rect(MARGIN, COLUMNS_Y, width, ROW_H, style="F")
        self.text(0, HEAD_Y, width, title, large=True, height=6, cache=True)
        offset = 0.0
        for key, col_width, numeric in columns:
            self.text(offset, COLUMNS_Y, col_width, self.frame.labels.get(key, ""), numeric=numeric, cache=True)
            offset += col_width
        pdf.set_draw_color(120)
        pdf.set_line_width(0.2)
        pdf.line(MARGIN, ROWS_Y - 0.6, PAGE_W - MARGIN, ROWS_Y - 0.6)
        pdf.line(MARGIN, FOOTER_Y - 1, PAGE_W - MARGIN, FOOTER_Y - 1)

        footer = self.frame.page_format.format(page=number, pages=self.frame.total_pages)
        self.text(0, FOOTER_Y, width / 2, self.frame.bundle_id)
        self.text(width / 2, FOOTER_Y, width / 2, footer, numeric=True)

    def stripe(self, y: float) -> None:
        self.pdf.set_fill_color(240)
        self.pdf.rect(MARGIN, y, PAGE_W - 2 * MARGIN, ROW_H, style="F")

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _decryptor(keys: list[str]):
    if not keys:
        return lambda token: token
    fernet = fernet_for(tuple(keys))
    return lambda token: fernet.decrypt(token.encode("ascii")).decode("utf-8") if token else None


def render_named(task: dict) -> bytes:
    """One chunk of the named signatories: task holds the Frame, the first page number,
    the first row number, the rows (Fernet tokens as stored) and any closing lines."""
    return _collecting_once(_render_named, task)


def render_paper(task: dict) -> bytes:
    """One chunk of the signatures collected on paper: rows of (name token, country,
    day collected, place collected), numbered from task["first_number"]."""
    return _collecting_once(_render_paper, task)


def _collecting_once(render, task: dict) -> bytes:
    """render(task) with the garbage collector off, then one collection."""
    gc.disable()  # see PDF-NOTES: the collector dominates long layouts; one collect at the end
    try:
        return render(task)
    finally:
        # After render has returned, so that its document (fpdf2's objects hold
        # reference cycles) is garbage now, not kept alive through the next chunk.
        gc.enable()
        gc.collect()


def _render_named(task: dict) -> bytes:
    frame: Frame = task["frame"]
    decrypt = _decryptor(task["keys"])
    # Country names repeat on every page: each one looked up once per chunk.
    country_names = functools.cache(country_name)

    def cells(row) -> tuple[str, str, str, str]:
        name_enc, affiliation_enc, visibility, country, day = row
        line = disclosure.printed(decrypt(name_enc) or "", decrypt(affiliation_enc) if affiliation_enc else None, visibility,
                       "named", country, frame.lang, country_names=country_names)
        return (line.name, line.country, line.affiliation, day) if line else ("", "", "", day)

    return _grid(task, frame, frame.labels["named_title"], NAMED_COLUMNS, cells)


def _render_paper(task: dict) -> bytes:
    frame: Frame = task["frame"]
    decrypt = _decryptor(task["keys"])
    country_shown = functools.cache(disclosure.country_shown)

    def cells(row) -> tuple[str, str, str, str]:
        name_enc, country, day, place = row
        return decrypt(name_enc) or "", country_shown(country, frame.lang), place, day

    return _grid(task, frame, frame.labels["paper_title"], PAPER_COLUMNS, cells)


def _grid(task: dict, frame: Frame, title: str, columns, cells) -> bytes:
    """Numbered rows of four cells (name, country, a free column, a date) on whole pages,
    then any closing lines."""
    writer = _Writer(frame)
    rows = task["rows"]
    closing = task.get("closing", [])
    items = len(rows) + len(closing)
    page_number = task["first_page"]
    number = task["first_number"]
    offsets = tuple(sum(width for _, width, _ in columns[:i]) for i in range(len(columns)))
    widths = tuple(width for _, width, _ in columns)
    for index in range(items):
        slot = index % ROWS_PER_PAGE
        if slot == 0:
            writer.page(page_number, title, columns)
            page_number += 1
        y = ROWS_Y + slot * ROW_H
        if index >= len(rows):
            writer.text(0, y, PAGE_W - 2 * MARGIN, closing[index - len(rows)])
            continue
        name, country, free, day = cells(rows[index])
        if slot % 2:
            writer.stripe(y)
        # Only what repeats is cached (countries, dates): real names are unique.
        writer.text(offsets[0], y, widths[0], str(number), numeric=True)
        writer.text(offsets[1], y, widths[1], name)
        writer.text(offsets[2], y, widths[2], country, cache=True)
        writer.text(offsets[3], y, widths[3], free)
        writer.text(offsets[4], y, widths[4], day, numeric=True, cache=True)
        number += 1
    return writer.output()


def render_countries(task: dict) -> bytes:
    """The per-country table: rows of (label, formatted count), after a note line."""
    frame: Frame = task["frame"]
    writer = _Writer(frame)
    lines = [("note", task["note"])] + [("row", row) for row in task["rows"]]
    page_number = task["first_page"]
    title = frame.labels["countries_title"]
    for index, (kind, value) in enumerate(lines):
        slot = index % ROWS_PER_PAGE
        if slot == 0:
            writer.page(page_number, title, COUNTRY_COLUMNS)
            page_number += 1
        y = ROWS_Y + slot * ROW_H
        if kind == "note":
            writer.text(0, y, PAGE_W - 2 * MARGIN, value)
            continue
        if slot % 2:
            writer.stripe(y)
        label, count = value
        writer.text(0, y, COUNTRY_COLUMNS[0][1], label, cache=True)
        writer.text(COUNTRY_COLUMNS[0][1], y, COUNTRY_COLUMNS[1][1], count, numeric=True)
    return writer.output()


def country_pages(rows: int) -> int:
    return pages_for(rows + 1)
