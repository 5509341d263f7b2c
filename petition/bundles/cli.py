"""`flask --app wsgi bundle build` and `flask --app wsgi keys init`."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from petition import audit
from petition.bundles import services, signing_keys
from petition.bundles.signing_keys import SigningKeyMissing
from petition.extensions import db
from petition.letters import services as letters


@click.group("bundle", help="Delivery bundles: signed PDFs of a letter and its signatories.")
def bundle_cli() -> None:
    pass


@bundle_cli.command("build")
@click.argument("slug")
@click.option("--lang", required=True, help="Language of the letter text and of the bundle.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Also write the PDF here, and FILE.manifest.json beside it.")
@click.option("--workers", type=click.IntRange(0, 16), default=None,
              help="Worker processes for the signatory pages (default: BUNDLE_WORKERS).")
@with_appcontext
def build(slug: str, lang: str, output: Path | None, workers: int | None) -> None:
    """Build, sign and store a bundle of SLUG in LANG (it is kept in the database)."""
    row = letters.letter_row(slug)
    if row is None:
        raise click.ClickException(f"no letter {slug!r} (run `flask --app wsgi letters sync`?)")
    with click.progressbar(length=100, label=f"building {slug} ({lang})", show_percent=True) as bar:
        done = [0]

        def progress(percent: int, message: str = "") -> None:
            if percent > done[0]:
                bar.update(percent - done[0])
                done[0] = percent

        try:
            built = services.build(db.session, row, lang, progress=progress, workers=workers)
        except (services.BundleError, SigningKeyMissing) as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        audit.record(db.session, None, "bundle.build", row.id, bundle=built.bundle.id, lang=lang)
        db.session.commit()
        progress(100)
    bundle = built.bundle
    if output:
        output.write_bytes(built.pdf)
        manifest_path = output.with_name(output.name + ".manifest.json")
        with manifest_path.open("w", encoding="utf-8") as handle:
            for piece in services.manifest_chunks(db.session, bundle):
                handle.write(piece)
        click.echo(f"wrote {output} and {manifest_path}")
    click.echo(f"bundle {bundle.id}: {bundle.pages} pages, {bundle.size_bytes} bytes, sha256 {bundle.sha256}")
    stamp = services.timestamp_of(bundle)
    click.echo(f"timestamp {stamp['time']} from {stamp['authority']} ({stamp['level']})" if stamp
               else "no trusted timestamp (BUNDLE_TSA_URL is not set)")


@click.group("keys", help="The key and certificate that sign delivery bundles.")
def keys_cli() -> None:
    pass


@keys_cli.command("init")
@click.option("--common-name", default="Open letters: delivery bundles", show_default=True,
              help="The certificate's subject (shown as the signer of every bundle).")
@click.option("--organisation", default=None, help="The campaign or organisation behind the bundles.")
@click.option("--days", type=click.IntRange(1, 3650), default=3 * 365, show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing key (old bundles stay valid).")
@with_appcontext
def init(common_name: str, organisation: str | None, days: int, force: bool) -> None:
    """Create a self-signed RSA-3072 signing key and certificate (PKCS#12) under instance/."""
    config = current_app.config["PETITION"]
    try:
        where = signing_keys.init_keys(config, common_name, organisation, days=days, force=force)
    except FileExistsError as exc:
        raise click.ClickException(f"{exc} exists already; --force replaces it") from None
    signer = signing_keys.load_signer(config)
    click.echo(f"wrote {where.path} (certificate SHA-256 {signing_keys.certificate_fingerprint(signer)})")
