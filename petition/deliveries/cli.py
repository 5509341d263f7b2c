"""`flask --app wsgi deliveries record|list|verify|link`: for automation and for tests."""
from __future__ import annotations

import functools
import sys
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext as _with_appcontext
from flask_babel import force_locale

from petition.bundles import services as bundles
from petition.deliveries import services
from petition.deliveries.views import company_url
from petition.extensions import db
from petition.letters import services as letters


def with_appcontext(command):
    """Flask's, with messages in English: there is no request to take a language from."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        with force_locale("en"):
            return command(*args, **kwargs)

    return _with_appcontext(run)


@click.group("deliveries", help="Deliveries of letters to their addressees, and the public delivery log.")
def deliveries_cli() -> None:
    pass


def _letter(slug: str):
    row = letters.letter_row(slug)
    if row is None:
        raise click.ClickException(f"no letter {slug!r} (run `flask --app wsgi letters sync`?)")
    return row


@deliveries_cli.command("record")
@click.argument("slug")
@click.option("--company", required=True, help="The company, as the letter's file names it.")
@click.option("--platform", default="", help="One of the platforms the letter names for that company, if the "
                                             "delivery is to that platform only.")
@click.option("--bundle", "bundle_id", required=True, help="The bundle's id (see the console or `bundle build`).")
@click.option("--on", "delivered_on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date of delivery, YYYY-MM-DD (default: today).")
@click.option("--channel", default="not stated", show_default=True, help="How it was delivered.")
@click.option("--recipient", default="not stated", show_default=True,
              help="The person or office it went to (kept out of the public log).")
@with_appcontext
def record(slug: str, company: str, platform: str, bundle_id: str, delivered_on, channel: str, recipient: str) -> None:
    """Record a delivery of SLUG and print the company's link (shown this once only)."""
    row = _letter(slug)
    bundle = bundles.bundle_of(db.session, row.id, bundle_id)
    if bundle is None:
        raise click.ClickException(f"no bundle {bundle_id!r} of {slug}")
    on = delivered_on.date() if delivered_on else date.today()
    try:
        recorded = services.record(db.session, row, bundle, company=company, platform=platform, delivered_on=on,
                                   channel=channel, recipient=recipient, actor=None)
    except services.DeliveryError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(company_url(row, recorded.token))


@deliveries_cli.command("link")
@click.argument("slug")
@click.option("--company", required=True)
@click.option("--platform", default="")
@with_appcontext
def link(slug: str, company: str, platform: str) -> None:
    """Make a new link for a delivery's company (the old one stops working) and print it."""
    row = _letter(slug)
    delivery = services.find(db.session, row, company, platform)
    if delivery is None:
        raise click.ClickException(f"no delivery of {slug} to {services.Addressee(company, platform).label}")
    token = services.new_link(db.session, row, delivery, None)
    db.session.commit()
    click.echo(company_url(row, token))


@deliveries_cli.command("list")
@click.argument("slug")
@with_appcontext
def list_(slug: str) -> None:
    """The deliveries of SLUG, as the public log states them (one line each)."""
    row = _letter(slug)
    summaries = services.public_summaries(db.session, row.id)
    if not summaries:
        click.echo("no deliveries")
    today = date.today()
    for s in summaries:
        if s.response_status == "none":
            response = f"no response after {s.silent_days(today)} days"
        else:
            response = f"response {s.response_status}"
        acknowledged = f"acknowledged {s.acknowledged_on.isoformat()}" if s.acknowledged_on else "not acknowledged"
        click.echo(f"{s.delivered_on.isoformat()}  {s.label}  bundle {s.bundle_id} sha256 {s.bundle_sha256}  "
                   f"{acknowledged}  {response}")


@deliveries_cli.command("verify")
@click.argument("slug")
@with_appcontext
def verify(slug: str) -> None:
    """Check SLUG's delivery log (the hash chain) and each delivered bundle's PDF signature.
    Exits with status 1 if anything is wrong."""
    row = _letter(slug)
    result = services.verify(db.session, row, current_app.config["PETITION"])
    for problem in result.problems:
        click.echo(f"entry {problem.seq}: {problem.reason}")
    for check in result.bundles:
        click.echo(f"bundle {check.bundle_id}: {'ok' if check.ok else 'FAILED'}: {check.detail}")
    if result.ok:
        click.echo(f"ok: {result.entries} log entries, chain intact, {len(result.bundles)} bundle(s) verified")
    else:
        click.echo(f"FAILED: {len(result.problems)} problem(s) in {result.entries} log entries", err=True)
        sys.exit(1)
