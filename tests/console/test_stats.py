"""Aggregates for the console: the chart, hourly rates, spikes (the grouping of small
countries is tested with petition.disclosure)."""
from __future__ import annotations

from datetime import date, timedelta

from petition.console import stats
from petition.extensions import db
from petition.letters import services as letters
from petition.models_common import utcnow
from petition.signing import services
from petition.signing.models import Signature


def test_over_time_is_cumulative_and_fills_gaps():
    today = date(2024, 5, 10)
    chart = stats.over_time({date(2024, 5, 1): 3, date(2024, 5, 4): 2}, today=today)
    assert chart.total == 5 and chart.y_max == 5
    assert chart.first_day == date(2024, 5, 1) and chart.last_day == today
    assert len(chart.points.split()) == 11  # from the day before the first signature (at zero) to today
    assert [bar[4] for bar in chart.bars] == [3, 2]
    ys = [float(p.split(",")[1]) for p in chart.points.split()]
    assert ys == sorted(ys, reverse=True)  # never goes down
    assert stats.over_time({}).total == 0


def _add(row_id, n, *, country="LB", lang="en", domain="example.org", created=None, status="confirmed", hidden=False):
    created = created or utcnow()
    for i in range(n):
        db.session.add(Signature(
            letter_id=row_id, status=status, email_hash=f"h-{country}-{domain}-{created.timestamp()}-{i}-{status}",
            country=country, lang=lang, public_visibility="none", bundle_visibility="counted", version_hash="v",
            created_at=created, confirmed_at=created if status == "confirmed" else None, **services.domain_columns(f"someone@{domain}"),
            hidden=hidden))
    db.session.flush()


def test_counts_by_country_language_and_day_skip_hidden_and_pending(app):
    row = letters.letter_row("secure-our-socials")
    _add(row.id, 6, country="LB", lang="ar")
    _add(row.id, 2, country="FR", lang="fr")
    _add(row.id, 3, country="LB", status="pending")
    _add(row.id, 4, country="GR", hidden=True)
    assert stats.by_country(db.session, row.id) == {"LB": 6, "FR": 2}
    assert stats.by_language(db.session, row.id) == {"ar": 6, "fr": 2}
    assert stats.daily_confirmed(db.session, row.id) == {utcnow().date(): 8}


def test_hourly_rates_and_domain_spikes(app):
    row = letters.letter_row("secure-our-socials")
    # Half past the hour, so "five minutes ago" is in the same hour whenever the test runs.
    now = utcnow().replace(minute=30, second=0, microsecond=0)
    _add(row.id, 12, domain="spam.example", created=now - timedelta(minutes=5), status="pending")
    _add(row.id, 5, domain="gmail.com", created=now - timedelta(hours=2))
    _add(row.id, 7 * 5, domain="gmail.com", created=now - timedelta(days=3))  # usual: 5 a day
    _add(row.id, 2, domain="tiny.example", created=now - timedelta(minutes=1))
    rates = stats.hourly_rates(db.session, row.id, now=now)
    assert len(rates) == 48
    assert rates[-1].requests == 14 and rates[-1].confirmed == 2
    assert rates[-3].requests == 5 and rates[-3].confirmed == 5
    spikes = {s.domain: s for s in stats.domain_spikes(db.session, row.id, now=now)}
    assert spikes["spam.example"].spiking and spikes["spam.example"].recent == 12
    assert not spikes["gmail.com"].spiking and spikes["gmail.com"].usual == 5.0
    assert "tiny.example" not in spikes  # too few to show: could point at one person
