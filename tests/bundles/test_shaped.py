"""The annex's own shaped-text path draws what fpdf2's cell() with text shaping draws:
same bidi fragments, same fonts, same glyphs in the same order, same widths."""
from __future__ import annotations

import random
import re

import pytest

from petition.bundles.pdf import annex, fonts, shaped
from petition.signing.synthetic import AFFILIATIONS, FIRST, LAST
from petition.text import initials

pytestmark = pytest.mark.skipif(bool(fonts.check_installed()), reason="PDF fonts not installed")

SAMPLES = [
    "سارة خليل", "محمد Haddad", "Amal الحداد", "Karim Mansour", "S. ل.", "م. K.", "ل. ن. Ε.",
    "Nour Καραγιάννη سارة", "عبد الله", "Leila Νίκος عبد الله", "الموقّعون الأفراد", "صحفية",
    "جنوب أفريقيا", "المملكة العربية السعودية", "Jean-Pierre (ليلى)", "O'Brien — علي!", "علي: Smith, Jr.",
    "صفحة 4 من 1900", "رقم 12", "Omar 2nd", " سارة", "سارة ", "זהבה כהן", "Δημήτρης", "שלום Smith",
    "\u2067سارة\u2069 Smith", "مريم\u200cعلي", "بِسْمِ", "a", "…", "(!)",
]


def _samples() -> list[str]:
    rng = random.Random(3)
    out = list(SAMPLES)
    for _ in range(300):
        name = " ".join(rng.choice(FIRST + LAST) for _ in range(rng.randint(1, 4)))
        out += [name, initials(name)]
    out += [a for a in AFFILIATIONS if a]
    return out


def test_fast_bidi_matches_fpdf2():
    from fpdf.bidi import BidiParagraph, auto_detect_base_direction

    for text in _samples():
        paragraph = auto_detect_base_direction(text)
        expected = list(BidiParagraph(text=text, base_direction=paragraph, preserve_bn_chars=True).get_bidi_fragments())
        assert shaped.bidi_fragments(text) == (paragraph, expected), text


def _fpdf(writer_fonts):
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.c_margin = 0.75
    for name, path in writer_fonts:
        pdf.add_font(name, "", path)
    pdf.add_page()
    return pdf


def _glyph_runs(content: str, font: str | None = None) -> list[tuple[str, str]]:
    """(font, glyph string) in drawing order, from one line's operators (font: the one
    set before them)."""
    runs = []
    for match in re.finditer(r"/F(\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", content, re.DOTALL):
        if match.group(1):
            font = match.group(1)
        else:
            runs.append((font, match.group(2)))
    # split runs may differ in where Tj breaks; compare the glyph sequence per font
    merged: list[tuple[str, str]] = []
    for font, glyphs in runs:
        if merged and merged[-1][0] == font:
            merged[-1] = (font, merged[-1][1] + glyphs)
        else:
            merged.append((font, glyphs))
    return merged


def test_shaper_draws_what_fpdf2_cell_draws():
    latin = fonts.required_file(fonts.LATIN)
    arabic = fonts.required_file(fonts.ARABIC)
    doc_fonts = [("latin", latin), ("latin-shaped", latin), ("arabic", arabic)]
    hebrew = fonts.font_file("Noto Sans Hebrew")
    if hebrew:
        doc_fonts.append(("x0", hebrew))
    extra = ["x0"] if hebrew else []
    reference, ours = _fpdf(doc_fonts), _fpdf(doc_fonts)
    shaper = shaped.Shaper(ours)
    for text in _samples():
        if not fonts.COMPLEX.search(text):
            continue
        if fonts.ARABIC_SCRIPT.search(text):
            main, fallbacks, size = "arabic", ["latin-shaped", *extra], annex.ARABIC_SIZE
        else:
            main, fallbacks, size = "latin-shaped", ["arabic", *extra], annex.SIZE
        reference.set_font(main, "", size)
        reference.set_fallback_fonts(fallbacks, exact_match=False)
        reference.set_text_shaping(True)
        before = len(reference.pages[reference.page].contents)
        reference.set_xy(40, 50)
        reference.cell(60, annex.ROW_H, text, align="R")
        expected = bytes(reference.pages[reference.page].contents[before:]).decode("latin-1")
        expected_width = reference.get_string_width(text)

        line = shaper.line(text, main, fallbacks, size)
        before = len(ours.pages[ours.page].contents)
        shaper.draw(line, 40, 50, 60, annex.ROW_H, True, 0.75)
        drawn = bytes(ours.pages[ours.page].contents[before:]).decode("latin-1")

        assert line.width == pytest.approx(expected_width, abs=1e-6), text
        assert _glyph_runs(drawn) == _glyph_runs(expected, str(reference.fonts[main].i)), text
        # the line starts where fpdf2 starts it
        start = re.search(r"BT ([\d.]+) ([\d.]+) Td", expected).groups()
        assert re.search(r"BT ([\d.]+) ([\d.]+) Td", drawn).groups() == start, text
        # cached lines are the same object, and the same operators
        assert shaper.line(text, main, fallbacks, size, cache=True).body == line.body


def _frame(lang: str) -> annex.Frame:
    labels = {"named_title": "الموقّعون الأفراد", "countries_title": "التواقيع حسب البلد", "number": "رقم",
              "name": "الاسم", "country": "البلد", "affiliation": "الانتماء", "date": "تاريخ التوقيع", "count": "التواقيع"}
    return annex.Frame(lang=lang, rtl=lang == "ar", bundle_id="b-1", page_format="صفحة {page} من {pages}",
                       total_pages=9, labels=labels)


def test_country_after_a_cut_arabic_name_keeps_its_font():
    """A name cut with an ellipsis ends in a fallback font; the next cell (a cached
    country name) must still be drawn in its own font, not in glyph ids of another."""
    import io

    import pypdf

    long_name = "محمد عبد الرحمن بن عبد العزيز آل سعود الحداد الخطيب العلي المنصور"
    rows = [(long_name, None, "full", country, "2024-05-01") for country in ("LB", "SA", "CD")]
    rows.append(("Julien Martin", "Journalist", "full", "FR", "2024-05-02"))
    pdf = annex.render_named({"frame": _frame("ar"), "keys": [], "rows": rows, "first_page": 1, "first_number": 1})
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for expected in ("لبنان", "المملكة العربية السعودية", "الكونغو", "فرنسا", "Julien Martin", "Journalist",
                     "…", "الموقّعون الأفراد", "صفحة"):
        assert expected in text, expected


def test_plain_width_is_fpdf2s():
    writer = annex._Writer(_frame("en"))
    writer.pdf.add_page()
    writer._plain()
    for text in ("2024-05-01", "Amnesty International", "Ελένη Οικονόμου", "Омар", "12345"):
        assert writer._width(text) == pytest.approx(writer.pdf.get_string_width(text), abs=1e-9)
