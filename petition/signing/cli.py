from __future__ import annotations

import click
from flask.cli import with_appcontext

from petition.extensions import db
from petition.letters import services as letters
from petition.signing import counters


@click.group("signatures", help="Counts and test data for signatures.")
def signatures_cli() -> None:
    pass


@signatures_cli.command("reconcile")
@click.argument("slug", required=False)
@with_appcontext
def reconcile(slug: str | None) -> None:
    """Recompute the sharded counters from the signatures table."""
    rows = [letters.letter_row(slug)] if slug else [letters.letter_row(s) for s in letters.registry()]
    for row in rows:
        if row is None:
            raise click.ClickException(f"no letter {slug!r}")
        before, after = counters.reconcile(db.session, row.id)
        db.session.commit()
        click.echo(f"{row.slug}: {before} -> {after}")
