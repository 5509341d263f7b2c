"""Fonts for the PDF, found by family name through fontconfig (scripts/system-deps.sh
installs DejaVu and Noto). WeasyPrint asks fontconfig itself; fpdf2 needs file paths."""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache

LATIN = "DejaVu Sans"
ARABIC = "Noto Naskh Arabic"
# Other scripts a signer's name may be written in; used only when installed.
EXTRA = (
    "Noto Sans Hebrew", "Noto Sans Armenian", "Noto Sans Georgian", "Noto Sans Devanagari",
    "Noto Sans Bengali", "Noto Sans Gurmukhi", "Noto Sans Gujarati", "Noto Sans Tamil",
    "Noto Sans Telugu", "Noto Sans Kannada", "Noto Sans Malayalam", "Noto Sans Sinhala",
    "Noto Sans Thai", "Noto Sans Lao", "Noto Sans Khmer", "Noto Sans Myanmar",
    "Noto Sans Ethiopic", "Noto Sans Tifinagh", "Noto Sans Syriac", "Noto Sans Thaana",
    "Noto Sans",
)

# Text that needs the bidi algorithm or shaping: anything beyond Latin, Greek, Cyrillic,
# general punctuation and symbols.
COMPLEX = re.compile("[^\u0000-\u02ff\u0370-\u052f\u1e00-\u1fff\u2000-\u206f\u20a0-\u214f]")
# Letters the Arabic font does not have (Latin, Greek, Cyrillic): with Arabic in the same
# text they need fpdf2's fallback fonts.
NON_ARABIC_LETTER = re.compile("[A-Za-z\u00c0-\u024f\u0370-\u052f\u1e00-\u1fff]")
ARABIC_SCRIPT = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


class FontMissing(RuntimeError):
    pass


@lru_cache(maxsize=64)
def font_file(family: str, style: str = "") -> str | None:
    """The file fontconfig serves for exactly this family (None when not installed)."""
    if not shutil.which("fc-match"):
        return None
    pattern = family + (":" + style if style else "")
    try:
        out = subprocess.run(["fc-match", "-f", "%{family}\n%{file}", pattern], capture_output=True,
                             text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    families, _, path = out.partition("\n")
    if family.lower() not in [f.strip().lower() for f in families.split(",")]:
        return None  # fontconfig substituted another family
    return path.strip() or None


def required_file(family: str, style: str = "") -> str:
    path = font_file(family, style)
    if path is None:
        raise FontMissing(f"font {family!r} is not installed (run scripts/system-deps.sh fonts)")
    return path


@lru_cache(maxsize=64)
def coverage(path: str) -> frozenset[int]:
    # Imported here: only a bundle build needs fontTools, not the web workers.
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


def check_installed() -> list[str]:
    """Families the bundle cannot do without that are missing."""
    return [family for family in (LATIN, ARABIC) if font_file(family) is None]
