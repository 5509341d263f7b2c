from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from petition.database import writing
from petition.extensions import db
from petition.letters import services as letters
from petition.signing import counters
from petition.signing.publication import publish_due
from petition.signing.synthetic import fake as insert_fake


@click.group("signatures", help="Counts and test data for signatures.")
def signatures_cli() -> None:
    pass


@signatures_cli.command("reconcile")
@click.argument("slug", required=False)
@with_appcontext
def reconcile(slug: str | None) -> None:
    """Recompute the sharded counters from the signatures table."""
    rows = [letters.letter_row(slug)] if slug else [letters.letter_row(s) for s in letters.registry()]
    if any(row is None for row in rows):
        raise click.ClickException(f"no letter {slug!r}")
    targets = [(row.id, row.slug) for row in rows]
    db.session.rollback()
    for letter_id, letter_slug in targets:
        with writing():  # SQLite: the write lock from BEGIN, so the count cannot go stale
            before, after = counters.reconcile(db.session, letter_id)
            db.session.commit()
        click.echo(f"{letter_slug}: {before} -> {after}")


@signatures_cli.command("publish")
@with_appcontext
def publish() -> None:
    """Publish the batches of public names that are due (the job workers do this on
    their own every PUBLICATION_CHECK_SECONDS)."""
    click.echo(f"{publish_due(db.session)} public name(s) published")


@signatures_cli.command("fake")
@click.argument("slug")
@click.option("--count", default=1000, show_default=True, type=click.IntRange(1, 5_000_000))
@click.option("--seed", type=int, default=None, help="Make the names and choices repeatable.")
@with_appcontext
def fake(slug: str, count: int, seed: int | None) -> None:
    """Insert COUNT confirmed synthetic signatures (refuses to run in production)."""
    if current_app.config["PETITION"].is_production:
        raise click.ClickException("refusing to add synthetic signatures in production")
    row = letters.letter_row(slug)
    if row is None:
        raise click.ClickException(f"no letter {slug!r} (run `flask --app wsgi letters sync`?)")
    with click.progressbar(length=count, label=f"adding {count} signatures to {slug}") as bar:
        insert_fake(db.session, row, count, seed=seed, progress=bar.update)
    db.session.commit()
    click.echo(f"{slug}: now {counters.confirmed_count(row.id)} confirmed signatures")
