"""The dashboard chart is honest at any range and legible on a phone: every bar and the line
are read against a labelled scale from zero, one day of signatures is a visible rise
between two different dates, and the phone gets a drawing whose text stays near 12 px."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from petition.console import stats
from tests.console.support import logged_in, make_user
from tests.console.test_console import SLUG, seed

TODAY = date(2026, 11, 29)


def height_of_value(chart, value: int, top: float, bottom: float, scale: int) -> float:
    return (bottom - top) * value / scale


@pytest.mark.parametrize("width", [640, 340])
def test_bars_are_drawn_to_their_labelled_scale(width):
    chart = stats.over_time({TODAY - timedelta(days=3): 3, TODAY - timedelta(days=1): 1, TODAY: 10}, today=TODAY,
                            width=width)
    assert chart.bar_max == 10 and chart.y_max == 20  # nice numbers at or above the peak and the total
    heights = {n: h for _, _, _, h, n, _ in chart.bars}
    full = chart.bars_bottom - chart.bars_top
    assert heights[10] == pytest.approx(full, abs=0.1)  # the busiest day reaches the scale's 10
    assert heights[3] == pytest.approx(0.3 * full, abs=0.1)  # a day with 3 reads as 3, not 1
    assert heights[1] == pytest.approx(0.1 * full, abs=0.1)
    for x, y, w, h, n, day in chart.bars:
        assert y + h == pytest.approx(chart.bars_bottom, abs=0.1)  # from zero
        assert chart.left <= x and x + w <= chart.right
    # the line: the last point stands at total/y_max of its panel
    end_y = chart.end[1]
    assert chart.line_bottom - end_y == pytest.approx((chart.line_bottom - chart.line_top) * 14 / 20, abs=0.1)


def test_a_single_day_is_a_visible_rise_between_two_dates():
    chart = stats.over_time({TODAY: 7}, today=TODAY)
    xs_ys = [tuple(map(float, p.split(","))) for p in chart.points.split()]
    assert len(xs_ys) == 2
    (x0, y0), (x1, y1) = xs_ys
    assert x1 - x0 > 100 and y0 - y1 > 50  # a long, rising segment
    labels = [day for _, day, _ in chart.ticks]
    assert labels == [TODAY - timedelta(days=1), TODAY] and len(set(labels)) == 2


def test_long_ranges_keep_bars_inside_and_labels_apart():
    daily = {TODAY - timedelta(days=i): (i % 7) * 30 for i in range(400)}
    for width in (640, 340):
        chart = stats.over_time(daily, today=TODAY, width=width)
        assert all(chart.left <= x and x + w <= chart.right + 0.1 for x, _, w, _, _, _ in chart.bars)
        xs = [x for x, _, _ in chart.ticks]
        assert all(b - a > 90 for a, b in zip(xs, xs[1:]))  # room for "29 Nov 2026" each
        assert chart.y_max >= chart.total and chart.bar_max >= 180


def test_nice_ceiling():
    assert [stats.nice_ceiling(n) for n in (0, 1, 3, 7, 11, 99, 101, 1_234_567)] == [1, 1, 5, 10, 20, 100, 200, 2_000_000]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_dashboard_draws_both_sizes_with_localised_dates(bare_app, lang):
    seed(bare_app, 30)
    admin = make_user(bare_app, "admin@example.org", role="admin")
    client = logged_in(bare_app.test_client(), bare_app, admin, lang)
    page = client.get(f"/{lang}/console/letters/{SLUG}/").text
    wide = re.search(r'<svg class="chart-wide".*?</svg>', page, re.S).group(0)
    narrow = re.search(r'<svg class="chart-narrow".*?</svg>', page, re.S).group(0)
    assert 'viewBox="0 0 340 300"' in narrow and 'font-size="12"' in narrow
    for svg in (wide, narrow):
        assert "style" not in svg and "<script" not in svg and "<polyline" in svg
        labels = re.findall(r'<text x="[^"]+" y="[^"]+" text-anchor="(?:start|middle|end)">([^<]+)</text>', svg)
        dates = [t for t in labels if not re.fullmatch(r"[\d,]+", t)]
        assert len(dates) >= 2 and len(set(dates)) == len(dates)
        assert not any(re.fullmatch(r"\d{4}-\d\d-\d\d", d) for d in dates)  # Babel's words, not ISO
    css = (bare_app.static_folder + "/css/site.css")
    text = open(css).read()
    assert ".console-chart .chart-narrow { display: none; }" in text and "@media (max-width: 36rem)" in text
