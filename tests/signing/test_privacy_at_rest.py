"""A copy of the database alone reveals only what the site already shows."""
from __future__ import annotations


import pytest
from sqlalchemy import select

from petition.extensions import db
from petition.signing.models import Signature
from tests.helpers import confirm_from_mail, database_dump, publish_names, sign_letter

EMAIL = "secret.signer.4711@example.org"
NAME = "Zainab Unlisted-Person"
AFFILIATION = "Secret Affiliation Ltd"


def sign_privately(app, client):
    sign_letter(client, email=EMAIL, name=NAME, affiliation=AFFILIATION, public_visibility="none", bundle_visibility="named")
    confirm_from_mail(client, app, public_visibility="none", bundle_visibility="named")
    sign_letter(client, "protect-women-hrds", email="Pending." + EMAIL, name=NAME)


def dump(app, tmp_path) -> bytes:
    return database_dump(app)


def test_database_dump_holds_no_address_and_no_unlisted_name(app, client, tmp_path):
    sign_privately(app, client)
    assert db.session.scalar(select(Signature.status).where(Signature.public_visibility == "none")) == "confirmed"
    raw = dump(app, tmp_path)
    for secret in (EMAIL, EMAIL.split("@")[0], NAME, AFFILIATION, "Zainab"):
        assert secret.encode() not in raw, f"{secret!r} readable in the dump"
        assert secret.lower().encode() not in raw.lower()


def test_unconfirmed_signer_leaves_nothing_readable(app, client, tmp_path):
    sign_letter(client, email="never.confirmed@example.org", name="Never Confirmed", public_visibility="full")
    raw = dump(app, tmp_path)
    assert b"never.confirmed" not in raw and b"Never Confirmed" not in raw


def test_public_names_are_what_the_site_shows(app, client):
    sign_letter(client, email="public@example.org", name="Shown Publicly", public_visibility="full")
    confirm_from_mail(client, app, public_visibility="full")
    publish_names(app)
    assert "Shown Publicly" in client.get("/en/letters/secure-our-socials/").text
    assert db.session.scalar(select(Signature.public_name)) == "Shown Publicly"


def test_logs_carry_no_address_name_or_ip(app, client, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    sign_letter(client, email="logged@example.org", name="Logged Name")
    confirm_from_mail(client, app)
    client.get("/en/confirm/garbage-token")
    text = caplog.text
    assert "logged@example.org" not in text and "Logged Name" not in text and "203.0.113.9" not in text


def test_redaction_filter_strips_addresses_tokens_and_ips():
    from petition.logs import redact

    line = '198.51.100.7 - - "GET /en/confirm/WzEsIjVsbUpWWDVwUkQ0NmVQdkllZENfQkhfMCJd.awG1DQ.0lnCwAv7THW HTTP/1.1" from x@y.org 2001:db8::1'
    cleaned = redact(line)
    assert "198.51.100.7" not in cleaned and "x@y.org" not in cleaned and "2001:db8::1" not in cleaned
    assert "WzEsIjVsbUpW" not in cleaned
    # Clock times are not addresses.
    assert redact("[21/Nov/2026 17:13:40] GET /") == "[21/Nov/2026 17:13:40] GET /"
    for address in ("fe80::1", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::ffff:192.0.2.1"):
        assert address not in redact(f"from {address} x")
    # Loopback is the machine itself, nobody's address: the start-up banner keeps it
    # (tests/firstrun/test_start.py attacks the rest).
    assert redact("Running on http://[::1]:5000") == "Running on http://[::1]:5000"
