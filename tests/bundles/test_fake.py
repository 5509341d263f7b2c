"""`flask signatures fake`: synthetic confirmed signatures for benchmarks and demos."""
from __future__ import annotations

from sqlalchemy import func, select

from petition.extensions import db
from petition.letters import services as letters
from petition.signing import counters
from petition.signing.models import Signature
from petition.text import initials


def test_fake_inserts_confirmed_signatures_of_every_kind(app, runner):
    result = runner.invoke(args=["signatures", "fake", "secure-our-socials", "--count", "3000", "--seed", "7"])
    assert result.exit_code == 0, result.output
    row = letters.letter_row("secure-our-socials")
    assert db.session.scalar(select(func.count()).select_from(Signature).where(
        Signature.letter_id == row.id, Signature.status == "confirmed", Signature.synthetic.is_(True))) == 3000
    assert counters.confirmed_count(row.id) == 3000
    choices = set(db.session.execute(select(Signature.public_visibility, Signature.bundle_visibility)).all())
    assert choices == {(p, b) for p in ("full", "initials", "none") for b in ("named", "counted")}
    names = [n for n in db.session.scalars(select(Signature.public_name).where(Signature.public_visibility == "full").limit(500))]
    assert any(any("\u0600" <= ch <= "\u06ff" for ch in n) for n in names)  # Arabic
    assert any(any("\u0370" <= ch <= "\u03ff" for ch in n) for n in names)  # Greek
    assert any(n.isascii() for n in names)  # Latin
    assert db.session.scalar(select(func.count(func.distinct(Signature.country)))) > 20
    # names are stored like real ones: encrypted, public parts as chosen
    sig = db.session.scalar(select(Signature).where(Signature.public_visibility == "initials").limit(1))
    from petition.crypto import decrypt

    assert sig.public_name == initials(decrypt(sig.name_enc)) and sig.email_enc is None


def test_fake_refuses_in_production(make_app, tmp_path):
    app = make_app(ENV="production", PUBLIC_URL="https://letters.example", MAIL_SERVER="127.0.0.1")
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["signatures", "fake", "secure-our-socials", "--count", "10"])
        assert result.exit_code != 0
        assert "refusing" in result.output
        assert db.session.scalar(select(func.count()).select_from(Signature)) == 0


def test_fake_unknown_letter(app, runner):
    result = runner.invoke(args=["signatures", "fake", "no-such-letter", "--count", "10"])
    assert result.exit_code != 0 and "no letter" in result.output
