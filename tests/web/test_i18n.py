"""Catalogues: complete in every language, one Arabic plural rule everywhere, and the
right plural forms on the pages."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale, ngettext

from petition.config import ROOT

ARABIC_RULE = "(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5)"
CATALOGUES = sorted(ROOT.glob("petition/*/translations/*/LC_MESSAGES/messages.po"))


def test_every_area_has_fr_ar_el():
    areas = {p.parts[-5] for p in CATALOGUES}
    for area in areas:
        assert {p.parts[-3] for p in CATALOGUES if p.parts[-5] == area} == {"fr", "ar", "el"}, area


@pytest.mark.parametrize("path", [p for p in CATALOGUES if p.parts[-3] == "ar"], ids=lambda p: p.parts[-5])
def test_arabic_catalogues_share_the_standard_plural_rule(path: Path):
    # Flask-Babel merges the areas' catalogues and keeps one plural function, so every
    # Arabic catalogue must order its six forms the same way.
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="ar")
    assert catalog.plural_expr.replace(" ", "") == ARABIC_RULE.replace(" ", "")


def test_catalogues_are_complete():
    result = subprocess.run(["bash", str(ROOT / "scripts" / "i18n.sh"), "check"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("count, expected", [(0, "لم يوقّع أحد بعد"), (1, "وقّع <strong>شخص واحد</strong>"),
                                             (2, "وقّع <strong>شخصان</strong>"), (5, "وقّع <strong>5</strong> أشخاص"),
                                             (15, "وقّع <strong>15</strong> شخصًا"), (100, "وقّع <strong>100</strong> شخص")])
def test_arabic_plurals_on_pages(app, count, expected):
    # The whole phrase, number included, is one message (tests/firstrun/test_counts.py
    # renders it on every page that shows a count).
    with app.test_request_context("/ar/"), force_locale("ar"):
        assert ngettext("<strong>%(num)s</strong> person has signed", "<strong>%(num)s</strong> people have signed",
                        count) == expected
