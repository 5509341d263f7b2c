"""bundles/pdf/shaped.py re-does, faster, what fpdf2's cell() does for one shaped line,
by calling fpdf2's bidi module and reading its fonts' internals. It is tested against
one fpdf2 release, which pyproject.toml pins; this says so clearly when the installed
fpdf2 is another, or when what shaped.py reads is gone."""
from __future__ import annotations

import tomllib
from importlib.metadata import version

import pytest
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.line_break import Fragment
from packaging.requirements import Requirement

from petition.bundles.pdf import fonts
from petition.config import ROOT


def _pinned() -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    [requirement] = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == "fpdf2"]
    return requirement


def test_the_installed_fpdf2_is_the_release_shaped_py_is_tested_against():
    pinned, installed = _pinned(), version("fpdf2")
    assert str(pinned.specifier), "pyproject.toml must pin fpdf2: bundles/pdf/shaped.py copies its internals"
    assert pinned.specifier.contains(installed), (
        f"fpdf2 {installed} is installed, but bundles/pdf/shaped.py is tested against fpdf2{pinned.specifier}: "
        "compare shaped.py with the new release's cell() path (tests/bundles/test_shaped.py), then move the pin")


def test_the_fpdf2_internals_shaped_py_follows_are_there():
    # The functions whose results shaped.py reproduces (tests/bundles/test_shaped.py
    # compares the two), and those it calls.
    for owner, names in ((FPDF, ("_parse_chars", "_render_styled_text_line", "_preload_bidirectional_text", "_out")),
                         (TTFFont, ("shape_text", "perform_harfbuzz_shaping", "escape_text")),
                         (Fragment, ("render_with_text_shaping",)),
                         (SubsetMap, ("get_glyph", "pick_glyph"))):
        missing = [name for name in names if not callable(getattr(owner, name, None))]
        assert not missing, f"fpdf2 {version('fpdf2')} has no {owner.__name__}.{', '.join(missing)}"


@pytest.mark.skipif(bool(fonts.check_installed()), reason="PDF fonts not installed")
def test_the_fpdf2_attributes_shaped_py_reads_are_there():
    pdf = FPDF()
    pdf.add_font("latin", "", fonts.required_file(fonts.LATIN))
    pdf.add_page()
    font = pdf.fonts["latin"]
    for name in ("scale", "hbfont", "cmap", "ttfont", "subset"):
        assert hasattr(font, name), f"fpdf2 {version('fpdf2')}: a TTF font has no .{name}"
    for name in ("k", "h", "page", "text_color", "fill_color", "_resource_catalog"):
        assert hasattr(pdf, name), f"fpdf2 {version('fpdf2')}: FPDF has no .{name}"
    assert callable(pdf._resource_catalog.add) and callable(pdf.text_color.serialize)
