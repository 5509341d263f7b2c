from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from petition.extensions import db
from petition.letters import milestones, services
from petition.letters.loader import LetterFileError, load_all


@click.group("letters", help="Check and sync the letter files under letters/.")
def letters_cli() -> None:
    pass


@letters_cli.command("check")
@with_appcontext
def check() -> None:
    """Validate every letter file; exit 1 naming the file and field on the first error."""
    try:
        letters = load_all(current_app.config["PETITION"].LETTERS_DIR)
    except LetterFileError as exc:
        raise click.ClickException(str(exc)) from None
    for slug, letter in letters.items():
        langs = ", ".join(f"{lang} {text.version_hash[:12]}" for lang, text in letter.texts.items())
        click.echo(f"ok  {slug}  [{letter.meta.status}]  {langs}")


@letters_cli.command("sync")
@with_appcontext
def sync() -> None:
    """Load the letter files and write their facts and text versions to the database."""
    try:
        letters = services.reload()
    except LetterFileError as exc:
        raise click.ClickException(str(exc)) from None
    report = services.sync(db.session, letters)
    for line in report.lines():
        click.echo(line)
    # Share images of new text versions now, and goals reached (the job worker's sweep
    # does the same every half minute).
    swept = milestones.sweep(db.session)
    for line in swept.images:
        click.echo(f"share image {line}")
    for line in swept.milestones:
        click.echo(f"goal reached {line}")
