"""The signatory pages (named individuals, then counts by country), drawn with fpdf2.

Every page is the same grid: a heading, column titles, ROWS_PER_PAGE rows of fixed
height, a footer with the bundle id and "page X of Y". Fixed rows are what let the
pipeline know the page count before drawing, so chunks rendered by different processes
carry their final page numbers. Text that needs bidi or shaping (see fonts.COMPLEX) is
set with HarfBuzz shaping and fpdf2's Unicode bidi algorithm, per cell; plain Latin,
Greek and Cyrillic is set without, which is four times faster.

Everything here is plain Python data in and PDF bytes out: it runs in `spawn` worker
processes with no Flask application.
"""
from __future__ import annotations

import gc
import math
from dataclasses import dataclass, field

from petition.bundles.pdf import fonts

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
    """One fpdf2 document; remembers the current font mode to switch as little as possible."""

    def __init__(self, frame: Frame):
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
        self.mode: tuple | None = None
        self._widths: dict[tuple, float] = {}

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

    def _use(self, text: str) -> None:
        style = ""
        if not fonts.COMPLEX.search(text):
            mode = ("plain", style)
        elif fonts.ARABIC_SCRIPT.search(text):
            mixed = bool(fonts.NON_ARABIC_LETTER.search(text))
            mode = ("arabic", style, len(self._extra_fonts_for(text)), mixed)
        else:
            mode = ("complex", style, len(self._extra_fonts_for(text)), True)
        if mode == self.mode:
            return
        pdf = self.pdf
        if self.mode is None and mode[0] != "plain":
            # After a mixed-script cell the PDF's current font may be a fallback font
            # that fpdf2 does not track: going through another font forces it to write
            # the font operator again.
            pdf.set_font("latin", style, SIZE)
        if mode[0] == "plain":
            pdf.set_text_shaping(False)
            pdf.set_fallback_fonts([])
            pdf.set_font("latin", style, SIZE)
        elif mode[0] == "arabic":
            pdf.set_font("arabic", style, ARABIC_SIZE)
            pdf.set_fallback_fonts(["latin-shaped", *self.extra], exact_match=False)
            pdf.set_text_shaping(True)
        else:
            pdf.set_font("latin-shaped", style, SIZE)
            pdf.set_fallback_fonts(["arabic", *self.extra], exact_match=False)
            pdf.set_text_shaping(True)
        self.mode = mode

    # -- drawing -----------------------------------------------------------------------

    def _width(self, text: str) -> float:
        """String width in the current mode, cached: countries, dates and labels repeat
        on every page, and measuring shaped text means shaping it."""
        key = (self.mode, text)
        width = self._widths.get(key)
        if width is None:
            if len(self._widths) > 20000:
                self._widths.clear()
            width = self._widths[key] = self.pdf.get_string_width(text)
        return width

    def _fit(self, text: str, width: float) -> str:
        """Cut text with an ellipsis so that it fits on its one line."""
        room = width - 1.5
        if len(text) * WIDEST <= room:
            return text
        if self._width(text) <= room:
            return text
        low, high = 0, len(text)
        while low < high:
            mid = (low + high + 1) // 2
            if self.pdf.get_string_width(text[:mid].rstrip() + "…") <= room:
                low = mid
            else:
                high = mid - 1
        return text[:low].rstrip() + "…"

    def _x(self, offset: float, width: float) -> float:
        return PAGE_W - MARGIN - offset - width if self.frame.rtl else MARGIN + offset

    def text(self, offset: float, y: float, width: float, text: str, *, numeric: bool = False,
             large: bool = False, height: float = ROW_H) -> None:
        """One line of text in a cell of the grid. For plain text, FPDF.text() at a
        computed position costs a seventh of FPDF.cell(): most cells take that path."""
        if not text:
            return
        self._use(text)
        kind, mixed = self.mode[0], len(self.mode) > 3 and self.mode[3]
        if large:
            self.pdf.set_font_size(11)
        else:
            text = self._fit(text, width)
        end_aligned = (not numeric) if self.frame.rtl else numeric
        x = self._x(offset, width)
        if kind != "plain" or large:
            # Shaping, bidi and fallback fonts happen only in FPDF.cell() (text() sets
            # characters as they come), so complex text takes the slower path.
            self.pdf.set_xy(x, y)
            self.pdf.cell(width, height, text, align="R" if end_aligned else "L")
            if mixed or large:
                # A larger size, or a fallback font fpdf2 may leave current after a
                # mixed-script cell without knowing it: set the font again next time.
                self.mode = None
            return
        if end_aligned:
            x += width - 0.75 - self._width(text)
        else:
            x += 0.75
        self.pdf.text(x, y + height * 0.72, text)

    def page(self, number: int, title: str, columns) -> None:
        pdf = self.pdf
        pdf.add_page()
        width = PAGE_W - 2 * MARGIN
        pdf.set_fill_color(225)
        pdf.rect(MARGIN, COLUMNS_Y, width, ROW_H, style="F")
        self.text(0, HEAD_Y, width, title, large=True, height=6)
        offset = 0.0
        for key, col_width, numeric in columns:
            self.text(offset, COLUMNS_Y, col_width, self.frame.labels.get(key, ""), numeric=numeric)
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
    from cryptography.fernet import Fernet, MultiFernet

    fernet = MultiFernet([Fernet(k.encode()) for k in keys])
    return lambda token: fernet.decrypt(token.encode("ascii")).decode("utf-8") if token else None


def render_named(task: dict) -> bytes:
    """One chunk of the named signatories: task holds the Frame, the first page number,
    the first row number, the rows (Fernet tokens as stored) and any closing lines."""
    from petition.countries import name as country_name
    from petition.text import initials

    gc.disable()  # see PDF-NOTES: the collector dominates long layouts; one collect at the end
    try:
        frame: Frame = task["frame"]
        decrypt = _decryptor(task["keys"])
        writer = _Writer(frame)
        rows = task["rows"]
        closing = task.get("closing", [])
        items = len(rows) + len(closing)
        page_number = task["first_page"]
        number = task["first_number"]
        countries: dict[str, str] = {}
        title = frame.labels["named_title"]
        for index in range(items):
            slot = index % ROWS_PER_PAGE
            if slot == 0:
                writer.page(page_number, title, NAMED_COLUMNS)
                page_number += 1
            y = ROWS_Y + slot * ROW_H
            if index >= len(rows):
                writer.text(0, y, PAGE_W - 2 * MARGIN, closing[index - len(rows)])
                continue
            name_enc, affiliation_enc, visibility, country, day = rows[index]
            full_name = decrypt(name_enc) or ""
            shown = initials(full_name) if visibility == "initials" else full_name
            # Affiliations only for people who show their full name publicly: an
            # affiliation beside initials could identify someone who chose initials.
            affiliation = (decrypt(affiliation_enc) or "") if visibility == "full" and affiliation_enc else ""
            if country not in countries:
                countries[country] = country_name(country, frame.lang) if country != "ZZ" else ""
            if slot % 2:
                writer.stripe(y)
            offset = 0.0
            for (key, width, numeric), value in zip(NAMED_COLUMNS, (str(number), shown, countries[country], affiliation, day)):
                writer.text(offset, y, width, value, numeric=numeric)
                offset += width
            number += 1
        return writer.output()
    finally:
        gc.enable()
        gc.collect()


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
        writer.text(0, y, COUNTRY_COLUMNS[0][1], label)
        writer.text(COUNTRY_COLUMNS[0][1], y, COUNTRY_COLUMNS[1][1], count, numeric=True)
    return writer.output()


def country_pages(rows: int) -> int:
    return pages_for(rows + 1)
