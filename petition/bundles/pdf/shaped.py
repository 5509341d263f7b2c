"""Shaped text for the annex without fpdf2's per-cell machinery.

fpdf2 (``set_text_shaping`` + ``cell()``) gets Arabic and mixed-script cells right, but
costs ~1.5 ms a cell: a pure-Python bidi algorithm, a fragment parser, HarfBuzz shaping
done twice (once to measure, once to draw), glyph lookups in fontTools, absolute text
matrices formatted per glyph. At 100,000 rows with an Arabic country name on every row
that was most of the build.

This module does what fpdf2 does for one line of text, with the same results:

* bidi: fpdf2's own algorithm (rules P2-P3 for the paragraph direction, then the UBA);
  for text made only of strong letters, spaces and punctuation (names, country names) the
  rules reduce to W1/W3/W6/N1/N2, computed here directly; anything else (digits,
  explicit embeddings, joiners, leading/trailing spaces) goes through ``fpdf.bidi``.
* fragments: split on script and on fallback font exactly as ``FPDF._parse_chars``.
* shaping: one ``uharfbuzz`` call per fragment; the glyph-to-subset mapping of
  ``TTFFont.shape_text`` is cached per glyph.
* drawing: the operators of ``FPDF._render_styled_text_line`` and
  ``Fragment.render_with_text_shaping``, but positions relative to the start of the line
  (``Td``) instead of absolute text matrices (``Tm``), so a line is a position-free
  string: a country name or a label is shaped once per worker and reused on every row.
  Each line is wrapped in ``q … Q`` with its font set explicitly, so fpdf2's idea of the
  current font and colour stays true.

Names are shaped every time (real names do not repeat); only text the caller marks as
reusable (countries, labels, dates) is cached, in a bounded dict.
"""
from __future__ import annotations

import unicodedata
from bisect import bisect_left

import uharfbuzz as hb
from fpdf.bidi import BidiParagraph, auto_detect_base_direction
from fpdf.enums import PDFResourceType, TextDirection
from fpdf.unicode_script import UnicodeScript, get_unicode_script

_SIMPLE_CLASSES = frozenset(("L", "R", "AL", "WS", "ON", "CS", "ES", "ET", "NSM"))
_NEUTRAL_SCRIPTS = (UnicodeScript.COMMON, UnicodeScript.UNKNOWN)
_LTR, _RTL = TextDirection.LTR, TextDirection.RTL
CACHE_MAX = 4096


def bidi_fragments(text: str) -> tuple[TextDirection, list[tuple[str, TextDirection]]]:
    """(paragraph direction, [(text, direction), ...] in logical order), as fpdf2's
    ``_preload_bidirectional_text`` computes them."""
    classes = [unicodedata.bidirectional(ch) for ch in text]
    if text != text.strip() or not _SIMPLE_CLASSES.issuperset(classes):
        paragraph = auto_detect_base_direction(text)
        return paragraph, list(BidiParagraph(text=text, base_direction=paragraph,
                                             preserve_bn_chars=True).get_bidi_fragments())
    # Strong types: L, or R (AL is R by W3). Everything else that is left is neutral
    # (W6 turns separators and terminators into ON when there are no numbers).
    para = "L"
    for cls in classes:
        if cls == "L":
            break
        if cls in ("R", "AL"):
            para = "R"
            break
    resolved: list[str] = []
    previous = para  # sos
    for cls in classes:
        if cls == "NSM":  # W1: the type of the previous character (sos at the start)
            cls = previous
        elif cls == "AL":
            cls = "R"
        elif cls != "L" and cls != "R":
            cls = "N"
        resolved.append(cls)
        previous = cls if cls != "N" else "ON"
    # W1 gives an NSM after a neutral the type ON: that is "N" here.
    resolved = ["N" if cls == "ON" else cls for cls in resolved]
    # N1/N2: a run of neutrals between two strong types takes theirs when they agree,
    # the paragraph's otherwise; sos and eos are the paragraph's.
    n = len(resolved)
    i = 0
    while i < n:
        if resolved[i] != "N":
            i += 1
            continue
        j = i
        while j < n and resolved[j] == "N":
            j += 1
        before = resolved[i - 1] if i else para
        after = resolved[j] if j < n else para
        fill = before if before == after else para
        for k in range(i, j):
            resolved[k] = fill
        i = j
    fragments: list[tuple[str, TextDirection]] = []
    start = 0
    for k in range(1, n + 1):
        if k == n or resolved[k] != resolved[start]:
            fragments.append((text[start:k], _RTL if resolved[start] == "R" else _LTR))
            start = k
    return (_RTL if para == "R" else _LTR), fragments


def _td(dx: float, dy: float) -> str:
    """A relative move of the text line matrix, written as fpdf2 writes numbers."""
    dx = round(dx, 2) + 0.0  # + 0.0: no "-0.00"
    dy = round(dy, 2) + 0.0
    return f"{dx:.2f} {dy:.2f} Td" if dy else f"{dx:.2f} 0 Td"


class _FontRun:
    """Glyph lookups for one font: (glyph id, characters) -> (PDF string code, width)."""

    __slots__ = ("cmap", "font", "glyphs", "hbfont", "hmtx", "names", "scale")

    def __init__(self, font):
        self.font = font
        self.scale = font.scale
        self.hbfont = font.hbfont
        self.cmap = font.cmap
        self.glyphs: dict = {}
        self.names: dict[int, str] = {}
        self.hmtx = font.ttfont["hmtx"].metrics

    def glyph(self, gid: int, unicode: tuple) -> tuple[str, int] | None:
        key = (gid, unicode)
        found = self.glyphs.get(key, False)
        if found is not False:
            return found
        font = self.font
        name = self.names.get(gid)
        if name is None:
            name = self.names[gid] = font.ttfont.getGlyphName(gid)
        width = round(self.scale * self.hmtx[name][0])
        glyph = font.subset.get_glyph(glyph=gid, unicode=unicode, glyph_name=name, glyph_width=width)
        if glyph is None:
            found = None
        else:
            found = (font.escape_text(chr(font.subset.pick_glyph(glyph))), width)
        self.glyphs[key] = found
        return found


class Line:
    """One shaped line: its width (mm) and its operators relative to the line's origin."""

    __slots__ = ("body", "fonts", "size", "width")

    def __init__(self, width: float, body: str, fonts: tuple[int, ...], size: float):
        self.width = width
        self.body = body
        self.fonts = fonts
        self.size = size


class Shaper:
    """Shapes and draws single lines of text in one fpdf2 document."""

    def __init__(self, pdf):
        self.pdf = pdf
        self.k = pdf.k
        self._runs: dict[str, _FontRun] = {}
        self._cache: dict[tuple, Line] = {}

    def _run(self, name: str) -> _FontRun:
        run = self._runs.get(name)
        if run is None:
            run = self._runs[name] = _FontRun(self.pdf.fonts[name])
        return run

    # -- fragments (FPDF._parse_chars without markdown) ------------------------------------

    def _split(self, text: str, main: _FontRun, fallbacks: list[_FontRun]) -> list[tuple[str, _FontRun]]:
        out: list[tuple[str, _FontRun]] = []
        chars: list[str] = []
        fallback: _FontRun | None = None
        script = None
        main_cmap = main.cmap

        def flush() -> None:
            nonlocal fallback, script, chars
            if fallback is not None:
                out.append(("".join(chars), fallback))
                fallback = None
                script = None
            else:
                out.append(("".join(chars), main))
            chars = []

        for ch in text:
            char_script = get_unicode_script(ch)
            if char_script not in _NEUTRAL_SCRIPTS and char_script != script:
                if chars and script:
                    flush()
                script = char_script
            if ch != "\n" and ord(ch) not in main_cmap:
                found = None
                for candidate in fallbacks:
                    if ord(ch) in candidate.cmap:
                        found = candidate
                        break
                if found is not None:
                    if found is fallback:
                        chars.append(ch)
                        continue
                    if chars:
                        flush()
                    fallback = found
                    chars.append(ch)
                    continue
            if fallback is not None:
                if chars:
                    flush()
                fallback = None
            chars.append(ch)
        if chars:
            flush()
        return out

    # -- shaping (TTFFont.perform_harfbuzz_shaping + shape_text) ---------------------------

    @staticmethod
    def _hb(run: _FontRun, text: str, size: float, direction: TextDirection):
        run.hbfont.ptem = size
        buf = hb.Buffer()
        buf.cluster_level = 1
        buf.add_str(text)
        buf.guess_segment_properties()
        buf.direction = direction.value
        hb.shape(run.hbfont, buf, {})
        return buf.glyph_infos, buf.glyph_positions

    def _glyphs(self, run: _FontRun, text: str, infos, positions) -> list:
        if not text:
            return []
        clusters = sorted(int(gi.cluster) for gi in infos)
        mapping: dict[int, list[int]] = {}
        for i in range(len(text)):
            pos = bisect_left(clusters, i)
            if pos == 0:
                cl = clusters[0]
            elif pos == len(clusters) or clusters[pos] != i:
                cl = clusters[pos - 1]
            else:
                cl = clusters[pos]
            mapping.setdefault(cl, []).append(i)
        out = []
        for seq, gi in enumerate(infos):
            unicode: tuple = ()
            indices = mapping.pop(gi.cluster, None)
            if indices is not None:
                unicode = tuple(ord(text[i]) for i in indices)
            found = run.glyph(gi.codepoint, unicode)
            if found is None:
                continue
            code, width = found
            p = positions[seq]
            out.append((code, p.x_advance, p.y_advance, p.x_offset, p.y_offset,
                        width != p.x_advance or p.x_offset != 0 or p.y_offset != 0 or p.y_advance != 0))
        return out

    # -- lines ------------------------------------------------------------------------------

    def line(self, text: str, main: str, fallbacks: list[str], size: float, *, cache: bool = False) -> Line:
        """text shaped with font main (and fallbacks for what main lacks) at size pt."""
        if cache:
            key = (text, main, tuple(fallbacks), size)
            found = self._cache.get(key)
            if found is not None:
                return found
        main_run = self._run(main)
        fallback_runs = [self._run(name) for name in fallbacks]
        k = self.k
        paragraph, bidi = bidi_fragments(text)
        # (text, font run, direction) in logical order, then visual order as
        # fpdf2's TextLine.get_ordered_fragments does it.
        frags = [(part, run, direction)
                 for segment, direction in bidi
                 for part, run in self._split(segment, main_run, fallback_runs)]
        runs: list[list] = []
        for frag in frags:
            if runs and runs[-1][0][2] == frag[2]:
                runs[-1].append(frag)
            else:
                runs.append([frag])
        if paragraph == _RTL:
            runs.reverse()
        ordered = [frag for run in runs for frag in (run[::-1] if run[0][2] == _RTL else run)]

        factor = size / 1000 / k  # font units * scale -> mm
        ops: list[str] = []
        fonts: list[int] = []
        width = 0.0  # s_width: sum of the fragments' rounded widths, in mm
        last_x = last_y = 0.0  # the text line matrix, relative, rounded as written
        current_font = None
        text_run = ""
        for part, run, direction in ordered:
            infos, positions = self._hb(run, part, size, direction)
            glyphs = self._glyphs(run, part, infos, positions)
            scale = run.scale
            if run is not current_font:
                current_font = run
                ops.append(f"/F{run.font.i} {size:.2f} Tf")
                if run.font.i not in fonts:
                    fonts.append(run.font.i)
            adjust = scale * factor
            pos_x, pos_y = width, 0.0
            text_run = ""
            for code, x_adv, y_adv, x_off, y_off, force in glyphs:
                if x_off or y_off:
                    if text_run:
                        ops.append(f"({text_run}) Tj")
                        text_run = ""
                    tx = round((pos_x + x_off * adjust) * k, 2)
                    ty = round((y_off * adjust - pos_y) * k, 2)
                    ops.append(_td(tx - last_x, ty - last_y))
                    last_x, last_y = tx, ty
                text_run += code
                pos_x += x_adv * adjust
                pos_y += y_adv * adjust
                if force:
                    if text_run:
                        ops.append(f"({text_run}) Tj")
                        text_run = ""
                    tx = round(pos_x * k, 2)
                    ty = round(-pos_y * k, 2)
                    ops.append(_td(tx - last_x, ty - last_y))
                    last_x, last_y = tx, ty
            if text_run:
                ops.append(f"({text_run}) Tj")
            width += sum(round(scale * p.x_advance + 0.001) for p in positions) * size * 0.001 / k
        result = Line(width, " ".join(ops), tuple(fonts), size)
        if cache:
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[key] = result
        return result

    def draw(self, line: Line, x: float, y: float, w: float, h: float, align_right: bool, c_margin: float) -> None:
        """Draw line in the cell (x, y, w, h) as FPDF.cell(w, h, text, align) would."""
        pdf = self.pdf
        k = self.k
        dx = (w - c_margin - line.width) if align_right else c_margin
        max_font_size = line.size / k
        color = ""
        if pdf.text_color != pdf.fill_color:
            color = pdf.text_color.serialize().lower() + " "
        pdf._out(f"q {color}BT {(x + dx) * k:.2f} {(pdf.h - y - 0.5 * h - 0.3 * max_font_size) * k:.2f} Td "
                 f"{line.body} ET Q")
        add = pdf._resource_catalog.add
        for index in line.fonts:
            add(PDFResourceType.FONT, index, pdf.page)
