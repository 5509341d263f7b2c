"""Race safety: concurrent submissions of one address give one signature; concurrent
confirmations of many signatures give an exact count (sharded counters), on whichever
database the suite runs against (PostgreSQL in CI's second run)."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from petition.database import writing
from petition.extensions import db
from petition.letters import services as letters
from petition.signing import counters, services
from petition.signing.models import Signature, SignatureCounter
from tests.helpers import links_in, outbox_messages, process_intake


def request_for(email: str) -> services.SignatureRequest:
    return services.SignatureRequest(
        name="Race Runner", email=email, country="JO", affiliation="", public_visibility="initials",
        bundle_visibility="counted", updates_opt_in=False, lang="en",
        version_hash=letters.loaded("secure-our-socials").texts["en"].version_hash,
    )


def run_in_threads(app, count: int, work) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def runner(index: int):
        with app.app_context(), writing():
            try:
                barrier.wait()
                work(index)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_concurrent_submissions_of_one_address_give_one_signature(app):
    app.config["PETITION"].MAIL_PER_ADDRESS_PER_DAY = 100

    def submit(index: int):
        row = letters.letter_row("secure-our-socials")
        for attempt in range(5):
            try:
                services.sign(db.session, row, request_for(f"Same.Person+{index}@gmail.com"))
                db.session.commit()
                return
            except Exception as exc:  # SQLite may report a busy database: retry like a user would
                db.session.rollback()
                if "locked" not in str(exc) or attempt == 4:
                    raise

    errors = run_in_threads(app, 8, submit)
    assert errors == []
    db.session.expire_all()
    messages = outbox_messages(app)
    assert len(messages) == 8  # each request its own pending row and its own link
    assert len({s.email_hash for s in db.session.scalars(select(Signature))}) == 1
    links = [links_in(m.text, "confirm")[0].rsplit("/", 1)[1] for m in messages]

    def confirm(index: int):
        for attempt in range(10):
            try:
                services.confirm(db.session, links[index], public_visibility=None, bundle_visibility=None,
                                 updates_opt_in=False, version_hash=None)
                db.session.commit()
                return
            except services.AlreadySigned:
                db.session.rollback()
                return
            except Exception as exc:
                db.session.rollback()
                if "locked" not in str(exc) or attempt == 9:
                    raise

    db.session.rollback()  # end this thread's read snapshot before the others write
    assert run_in_threads(app, 8, confirm) == []
    db.session.rollback()
    # Eight links confirmed at once: one signature, counted once.
    assert db.session.scalar(select(func.count()).select_from(Signature).where(Signature.status == "confirmed")) == 1
    counters.forget(letters.letter_row("secure-our-socials").id)
    assert counters.confirmed_count(letters.letter_row("secure-our-socials").id) == 1


def test_concurrent_confirmations_count_exactly(app):
    row = letters.letter_row("secure-our-socials")
    total = 40
    confirm_tokens = []
    from petition import tokens

    for i in range(total):
        services.sign(db.session, row, request_for(f"person{i}@example.org"))
    db.session.commit()
    process_intake(app)
    for sig in db.session.scalars(select(Signature)):
        nonce, nonce_hash = tokens.new_nonce()
        sig.confirm_nonce_hash = nonce_hash
        confirm_tokens.append(tokens.make(services.CONFIRM, sig.id, nonce))
    db.session.commit()

    def confirm(index: int):
        for token in confirm_tokens[index::8]:
            for attempt in range(10):
                try:
                    services.confirm(db.session, token, public_visibility=None, bundle_visibility=None,
                                     updates_opt_in=False, version_hash=None)
                    db.session.commit()
                    break
                except Exception as exc:
                    db.session.rollback()
                    if "locked" not in str(exc) or attempt == 9:
                        raise

    errors = run_in_threads(app, 8, confirm)
    assert errors == []
    counters.forget(row.id)
    assert counters.confirmed_count(row.id) == total
    assert db.session.scalar(select(func.count()).select_from(Signature).where(Signature.status == "confirmed")) == total
    # Spread over the shards rather than piled on one row.
    used = db.session.scalar(select(func.count()).select_from(SignatureCounter).where(
        SignatureCounter.letter_id == row.id, SignatureCounter.confirmed > 0))
    assert used > 1


def test_double_confirmation_counts_once(app):
    row = letters.letter_row("secure-our-socials")
    services.sign(db.session, row, request_for("double@example.org"))
    db.session.commit()
    from tests.helpers import links_in

    token = links_in(outbox_messages(app)[-1].text, "confirm")[0].rsplit("/", 1)[1]

    def confirm(_index: int):
        try:
            services.confirm(db.session, token, public_visibility=None, bundle_visibility=None,
                             updates_opt_in=False, version_hash=None)
            db.session.commit()
        except Exception:
            db.session.rollback()

    run_in_threads(app, 6, confirm)
    counters.forget(row.id)
    assert counters.confirmed_count(row.id) == 1


def test_reconcile_repairs_drifted_counters(app, runner):
    row = letters.letter_row("secure-our-socials")
    from petition.signing.synthetic import fake

    fake(db.session, row, 25, seed=3)
    db.session.commit()
    db.session.execute(SignatureCounter.__table__.update().values(confirmed=999))
    db.session.commit()
    result = runner.invoke(args=["signatures", "reconcile", "secure-our-socials"])
    assert result.exit_code == 0 and "-> 25" in result.output
    counters.forget(row.id)
    assert counters.confirmed_count(row.id) == 25


def test_new_requests_racing_confirmations_never_rewrite_a_confirmed_signature(app):
    """The attack that once rewrote 33 of 600 confirmed rows: while people confirm (not
    named, counted only), new requests with their addresses, another name and "named"
    are submitted and handled by the intake at the same moment. Every confirmed row must
    hold exactly what its own confirmation chose."""
    from petition.signing import intake

    row = letters.letter_row("secure-our-socials")
    app.config["PETITION"].MAIL_PER_ADDRESS_PER_DAY = 100
    total = 40
    for i in range(total):
        services.sign(db.session, row, request_for(f"racer{i}@example.org"))
    db.session.commit()
    messages = outbox_messages(app)
    links = [links_in(m.text, "confirm")[0].rsplit("/", 1)[1] for m in messages]
    assert len(links) == total
    db.session.rollback()

    def retrying(action):
        for attempt in range(20):
            try:
                action()
                db.session.commit()
                return
            except services.AlreadySigned:  # only if its own earlier try went through
                db.session.rollback()
                return
            except Exception as exc:
                db.session.rollback()
                if "locked" not in str(exc) or attempt == 19:
                    raise

    def work(index: int):
        letter = letters.letter_row("secure-our-socials")  # this thread's own copy
        if index % 2 == 0:  # confirm a share of the links, choosing to show nothing
            for token in links[index // 2::4]:
                retrying(lambda: services.confirm(db.session, token, public_visibility="none",
                                                  bundle_visibility="counted", updates_opt_in=False,
                                                  version_hash=None))
        else:  # ask again for the same addresses, as someone else, and handle it at once
            for i in range(index // 2, total, 4):
                request = request_for(f"Racer{i}@Example.org")
                intruder = services.SignatureRequest(**{**request.__dict__, "name": "Intruder Name",
                                                        "public_visibility": "full", "bundle_visibility": "named"})
                retrying(lambda: services.sign(db.session, letter, intruder))
                retrying(lambda: intake.Intake().process_due())

    assert run_in_threads(app, 8, work) == []
    db.session.rollback()
    confirmed = db.session.scalars(select(Signature).where(Signature.status == "confirmed")).all()
    assert len(confirmed) == total
    for sig in confirmed:
        assert sig.public_visibility == "none" and sig.bundle_visibility == "counted" and sig.public_name is None
        assert services.preview(sig, "en")["bundle"]["none"].name == "Race Runner"
    counters.forget(row.id)
    assert counters.confirmed_count(row.id) == total
