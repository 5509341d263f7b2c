"""Numbers for the console (and the bundle's cover): aggregates only, never a person.

Counts by country are grouped so that a small number cannot single someone out: every
country with fewer than `threshold` signatures goes into one "Other countries" line
(group_small_counts, also used by the PDF bundle).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from petition.models_common import utcnow
from petition.privacy.crypto import decrypt
from petition.signing.models import Signature

OTHER = "other"  # the key group_small_counts uses for the grouped line
SMALL = 5
SPIKE_MIN = 5  # a domain is shown only with at least this many requests in the window
SPIKE_RATIO = 3.0


def group_small_counts(counts: dict[str, int], threshold: int = SMALL) -> list[tuple[str, int]]:
    """[(key, count)] largest first; keys under `threshold` are summed into (OTHER, n),
    which always comes last. Keys with a zero count are dropped."""
    kept = [(key, n) for key, n in counts.items() if n >= threshold and key != OTHER]
    small = sum(n for key, n in counts.items() if 0 < n < threshold or (key == OTHER and n > 0))
    kept.sort(key=lambda pair: (-pair[1], pair[0]))
    if small:
        kept.append((OTHER, small))
    return kept


def _counted(letter_id: int):
    return (Signature.letter_id == letter_id, Signature.status == "confirmed", Signature.hidden.is_(False))


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

@dataclass(frozen=True)
class Chart:
    """Geometry for an inline SVG line chart (drawn by templates/console/_chart.html with
    presentation attributes only: no style attributes, no script, CSP-safe)."""
    width: int
    height: int
    left: int
    bottom: int
    top: int
    right: int
    points: str  # "x,y x,y ..." for <polyline>
    area: str  # the same line closed to the axis, for a filled <polygon>
    y_max: int
    first_day: date | None
    last_day: date | None
    total: int
    bars: list[tuple[float, float, float, float, int, date]]  # x, y, width, height, count, day (daily new)


def over_time(daily: dict[date, int], today: date | None = None, width: int = 640, height: int = 240) -> Chart:
    """Cumulative confirmed signatures per day, from the first signature to today."""
    left, right, top, bottom = 56, 16, 16, 32
    plot_w, plot_h = width - left - right, height - top - bottom
    if not daily:
        return Chart(width, height, left, bottom, top, right, "", "", 0, None, None, 0, [])
    today = today or date.today()
    first = min(daily)
    last = max(max(daily), today)
    days = (last - first).days + 1
    running, series = 0, []
    for i in range(days):
        day = first + timedelta(days=i)
        running += daily.get(day, 0)
        series.append((day, running, daily.get(day, 0)))
    y_max = max(running, 1)
    step = plot_w / max(days - 1, 1)
    points, bars = [], []
    peak = max(n for _, _, n in series) or 1
    bar_w = max(min(step * 0.8, 12), 1)
    for i, (day, total, new) in enumerate(series):
        x = left + i * step if days > 1 else left + plot_w / 2
        y = top + plot_h - (total / y_max) * plot_h
        points.append(f"{x:.1f},{y:.1f}")
        if new:
            h = (new / peak) * plot_h * 0.35
            bars.append((round(x - bar_w / 2, 1), round(top + plot_h - h, 1), round(bar_w, 1), round(h, 1), new, day))
    base = top + plot_h
    area = f"{points[0].split(',')[0]},{base} " + " ".join(points) + f" {points[-1].split(',')[0]},{base}"
    return Chart(width, height, left, bottom, top, right, " ".join(points), area, running, first, last, running, bars)
