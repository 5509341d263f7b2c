"""`flask --app wsgi privacy ...`: purge after retention, answer data requests, rotate keys.

Run `privacy purge --all` once a day (deploy/systemd/petition-purge.timer or cron): it
deletes the personal data of every closed or delivered letter whose retention period has
passed, and every unconfirmed request whose link has expired.
"""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from petition.database import reclaim_erased
from petition.extensions import db
from petition.letters import services as letters
from petition.privacy import services


@click.group("privacy", help="Retention purges, data requests (export, erase) and key rotation.")
def privacy_cli() -> None:
    pass


@privacy_cli.command("purge")
@click.argument("slug", required=False)
@click.option("--all", "every", is_flag=True, help="Every letter that is due, and expired unconfirmed requests (the daily run).")
@click.option("--force", is_flag=True, help="Purge SLUG now even if its retention period has not passed (it must be closed or delivered).")
@with_appcontext
def purge(slug: str | None, every: bool, force: bool) -> None:
    """Delete the personal data of a closed or delivered letter once its retention period has passed."""
    if bool(slug) == every:
        raise click.UsageError("give one letter SLUG, or --all")
    if every:
        if force:
            raise click.UsageError("--force works on one letter only")
        lines = services.purge_all(db.session, current_app.config["PETITION"].TOKEN_MAX_AGE_DAYS)
        db.session.commit()
        for line in lines:
            click.echo(line)
        click.echo(reclaim_erased(db.engine))
        return
    row = letters.letter_row(slug)
    if row is None:
        raise click.ClickException(f"no letter {slug!r}")
    report = services.purge_letter(db.session, row, force=force)
    db.session.commit()
    for line in report.lines():
        click.echo(line)
    if report.done:
        click.echo(reclaim_erased(db.engine))
    if not report.done:
        raise SystemExit(1)


@privacy_cli.command("export")
@click.argument("email")
@with_appcontext
def export(email: str) -> None:
    """Print, as JSON, everything held about EMAIL across all letters."""
    try:
        result = services.export(db.session, email)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()  # the audit entry
    click.echo(result.as_json())


@privacy_cli.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def erase(email: str, yes: bool) -> None:
    """Delete every signature and organisation contact of EMAIL across all letters."""
    if not yes:
        click.confirm("Delete this person's signatures and contact details on every letter?", abort=True)
    try:
        report = services.erase(db.session, email)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    for line in report.lines():
        click.echo(line)
    click.echo(reclaim_erased(db.engine))


@privacy_cli.command("vacuum")
@with_appcontext
def vacuum() -> None:
    """Make deleted personal data unreadable in the database files now (SQLite: empty the
    write-ahead log; PostgreSQL: VACUUM the signatures and organisations tables)."""
    db.session.remove()
    click.echo(reclaim_erased(db.engine))


@privacy_cli.command("rotate-keys")
@with_appcontext
def rotate_keys() -> None:
    """Re-encrypt all personal data under the newest DATA_KEYS key."""
    done = services.rotate_keys(db.session)
    db.session.commit()
    for table, count in done.items():
        click.echo(f"{table}: {count} value(s) re-encrypted")
    click.echo("you may now remove the older keys from DATA_KEYS")
