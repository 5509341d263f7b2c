"""Numbers for the console: aggregates only, never a person. Counts by country are
grouped by petition.disclosure.group_small_counts before they are shown.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from petition.crypto import decrypt
from petition.models_common import utcnow
from petition.signing.models import Signature

SPIKE_MIN = 5  # a domain is shown only with at least this many requests in the window
SPIKE_RATIO = 3.0


def _counted(letter_id: int):
    return (Signature.letter_id == letter_id, Signature.counted)


def _bucket(session: Session, column, unit: str):
    """A text key for the UTC day ("2024-05-01") or hour ("2024-05-01 13") of a column,
    on PostgreSQL and SQLite alike."""
    if session.get_bind().dialect.name == "postgresql":
        pattern = "YYYY-MM-DD" if unit == "day" else "YYYY-MM-DD HH24"
        return func.to_char(func.timezone("UTC", column), pattern)
    return func.strftime("%Y-%m-%d" if unit == "day" else "%Y-%m-%d %H", column)


def by_country(session: Session, letter_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Signature.country, func.count()).where(*_counted(letter_id)).group_by(Signature.country)
    )
    return {country or "ZZ": int(n) for country, n in rows}


def by_language(session: Session, letter_id: int) -> dict[str, int]:
    rows = session.execute(select(Signature.lang, func.count()).where(*_counted(letter_id)).group_by(Signature.lang))
    return {lang: int(n) for lang, n in rows}


def daily_confirmed(session: Session, letter_id: int) -> dict[date, int]:
    day = _bucket(session, Signature.confirmed_at, "day")
    rows = session.execute(
        select(day, func.count()).where(*_counted(letter_id), Signature.confirmed_at.is_not(None)).group_by(day)
    )
    return {date.fromisoformat(str(key)[:10]): int(n) for key, n in rows if key}


def _hourly(session: Session, letter_id: int, column, since: datetime, confirmed_only: bool) -> dict[str, int]:
    hour = _bucket(session, column, "hour")
    query = select(hour, func.count()).where(Signature.letter_id == letter_id, column >= since)
    if confirmed_only:
        query = query.where(Signature.status == "confirmed")
    return {str(key): int(n) for key, n in session.execute(query.group_by(hour)) if key}


@dataclass(frozen=True)
class HourRate:
    hour: datetime
    requests: int  # new signing requests (pending at first)
    confirmed: int


def hourly_rates(session: Session, letter_id: int, hours: int = 48, now: datetime | None = None) -> list[HourRate]:
    """New requests and confirmations per hour over the last `hours`, oldest first."""
    now = (now or utcnow()).astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    since = now - timedelta(hours=hours - 1)
    requests = _hourly(session, letter_id, Signature.created_at, since, False)
    confirmed = _hourly(session, letter_id, Signature.confirmed_at, since, True)
    out = []
    for i in range(hours):
        hour = since + timedelta(hours=i)
        key = hour.strftime("%Y-%m-%d %H")
        out.append(HourRate(hour=hour, requests=requests.get(key, 0), confirmed=confirmed.get(key, 0)))
    return out


@dataclass(frozen=True)
class DomainSpike:
    domain: str
    recent: int  # requests in the last day
    usual: float  # average requests per day over the week before
    spiking: bool


def domain_spikes(session: Session, letter_id: int, now: datetime | None = None, limit: int = 10,
                  min_count: int = SPIKE_MIN) -> list[DomainSpike]:
    """Email domains with the most requests in the last 24 hours, compared with their
    daily average over the 7 days before. Only domains with at least min_count requests
    appear (a small domain could point at a person). No addresses, no IPs."""
    now = now or utcnow()
    day_ago = now - timedelta(days=1)
    week_before = day_ago - timedelta(days=7)
    # Grouped by the domain's keyed hash; one encrypted copy of each group names it.
    recent = {digest: (n, label) for digest, n, label in session.execute(
        select(Signature.email_domain_hash, func.count(), func.min(Signature.email_domain_enc))
        .where(Signature.letter_id == letter_id, Signature.created_at >= day_ago, Signature.email_domain_hash.is_not(None))
        .group_by(Signature.email_domain_hash)
        .having(func.count() >= max(min_count, 1))
        .order_by(func.count().desc())
        .limit(limit)
    ).all()}
    if not recent:
        return []
    before = dict(session.execute(
        select(Signature.email_domain_hash, func.count())
        .where(Signature.letter_id == letter_id, Signature.created_at >= week_before, Signature.created_at < day_ago,
               Signature.email_domain_hash.in_(list(recent)))
        .group_by(Signature.email_domain_hash)
    ).all())
    out = []
    for digest, (n, label) in recent.items():
        usual = before.get(digest, 0) / 7
        out.append(DomainSpike(domain=decrypt(label) or "", recent=int(n), usual=round(usual, 1),
                               spiking=n >= SPIKE_RATIO * max(usual, 1.0)))
    out.sort(key=lambda s: (-s.recent, s.domain))
    return out


# ---- the chart -----------------------------------------------------------------------------

def nice_ceiling(n: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least n: an axis maximum a
    reader can take in at a glance, so that a bar's height can be read against it."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= n:
                return step * factor
        step *= 10


@dataclass(frozen=True)
class Chart:
    """Geometry for an inline SVG chart of one letter's confirmed signatures (drawn by
    templates/console/_chart.html with presentation attributes only: CSP-safe, no script).

    Two panels on one time axis, each with its own labelled scale from zero: the running
    total (a line), and the new confirmations of each day (bars). The axis starts the day
    before the first signature, at zero, so one day of signatures is a visible rise, and
    its two end labels are always different days. Sizes are in viewBox units: the page
    shows the narrow drawing on small screens, so its 12-unit text stays near 12 px."""
    width: int
    height: int
    font: int
    left: float
    right: float  # x of the plot's right edge
    line_top: float
    line_bottom: float
    bars_top: float
    bars_bottom: float
    points: str  # "x,y x,y ..." for <polyline>
    area: str  # the same line closed to its axis, for a filled <polygon>
    end: tuple[float, float]  # the last point, marked
    y_max: int  # the total panel's scale (a nice number >= the total)
    bar_max: int  # the daily panel's scale (a nice number >= the busiest day)
    start_day: date | None  # the axis' first day (zero signatures)
    first_day: date | None  # the day of the first signature
    last_day: date | None
    total: int
    bars: list[tuple[float, float, float, float, int, date]]  # x, y, width, height, count, day
    ticks: list[tuple[float, date, str]]  # x, day, text-anchor for the time axis labels


def over_time(daily: dict[date, int], today: date | None = None, width: int = 640, height: int = 280) -> Chart:
    """Confirmed signatures per day and their running total, up to today."""
    font = 12
    if not daily:
        return Chart(width, height, font, 0, 0, 0, 0, 0, 0, "", "", (0, 0), 0, 0, None, None, None, 0, [], [])
    today = today or date.today()
    first = min(daily)
    start = first - timedelta(days=1)
    last = max(max(daily), today)
    days = (last - start).days + 1
    running, series = 0, []
    for i in range(days):
        day = start + timedelta(days=i)
        running += daily.get(day, 0)
        series.append((day, running, daily.get(day, 0)))
    y_max = nice_ceiling(running)
    bar_max = nice_ceiling(max(n for _, _, n in series))

    # Room for the longest scale label ("1,000,000") beside the axis.
    left = 10 + 0.62 * font * len(f"{max(y_max, bar_max):,}")
    right = width - 10
    bottom = height - 2.2 * font  # the time axis labels below
    line_top, bars_bottom = 2 * font, bottom
    usable = bars_bottom - line_top - 2.8 * font  # a gap holding the daily panel's title
    line_bottom = line_top + usable * 0.6
    bars_top = line_bottom + 2.8 * font
    plot_w = right - left
    bar_w = max(min(plot_w / days * 0.7, 24.0), 1.5)
    pad = bar_w / 2 + 1
    step = (plot_w - 2 * pad) / (days - 1)

    points, bars = [], []
    for i, (day, total, new) in enumerate(series):
        x = left + pad + i * step
        y = line_bottom - (total / y_max) * (line_bottom - line_top)
        points.append((x, y))
        if new:
            h = (new / bar_max) * (bars_bottom - bars_top)
            bars.append((round(x - bar_w / 2, 1), round(bars_bottom - h, 1), round(bar_w, 1), round(h, 1), new, day))
    text = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    area = f"{points[0][0]:.1f},{line_bottom:.1f} {text} {points[-1][0]:.1f},{line_bottom:.1f}"

    ticks = [(points[0][0], start, "start"), (points[-1][0], last, "end")]
    # A middle label where there is room for three (about 7 characters each).
    if days >= 5 and plot_w > 3 * 9 * font:
        middle = days // 2
        ticks.insert(1, (points[middle][0], series[middle][0], "middle"))
    return Chart(width, height, font, round(left, 1), round(right, 1), line_top, round(line_bottom, 1),
                 round(bars_top, 1), round(bars_bottom, 1), text, area, (round(points[-1][0], 1), round(points[-1][1], 1)),
                 y_max, bar_max, start, first, last, running, bars, [(round(x, 1), d, a) for x, d, a in ticks])
