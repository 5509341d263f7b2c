"""A dependency down: the page says what is true (a form sent did not go through; try
again), answers 503 with Retry-After rather than 500, and the outage is logged once per
process, not once per request."""
from __future__ import annotations

import logging

import pytest

from petition import create_app, outages
from tests.conftest import free_port
from tests.helpers import make_config

SLUG = "secure-our-socials"


@pytest.fixture
def down_app(tmp_path):
    """The database is a port nothing listens on: every connection is refused."""
    outages.forget_all()
    app = create_app(make_config(tmp_path, DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/gone",
                                 DATABASE_CONNECT_TIMEOUT=2))
    app.config["WTF_CSRF_ENABLED"] = False  # the form reaches the database, as a real one would
    yield app
    outages.forget_all()


@pytest.mark.parametrize("lang", ["en", "fr", "ar", "el"])
def test_a_failed_write_says_it_did_not_go_through(down_app, lang):
    client = down_app.test_client()
    response = client.post(f"/{lang}/letters/{SLUG}/sign", data={
        "name": "Rania Saleh", "email": "rania@example.org", "country": "JO",
        "public_visibility": "initials", "bundle_visibility": "counted"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "Nothing you sent was lost" not in page
    assert f'lang="{lang}"' in page
    expected = {"en": "This did not go through", "fr": "n’a pas abouti", "ar": "لم يتم", "el": "Αυτό δεν"}[lang]
    assert expected in page
    assert "127.0.0.1" not in page and "rania" not in page


def test_a_page_view_during_an_outage_is_503_not_500(down_app):
    response = down_app.test_client().get(f"/en/letters/{SLUG}/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "try again in a minute" in response.get_data(as_text=True)


def test_an_outage_is_logged_once_not_once_per_request(down_app, caplog):
    client = down_app.test_client()
    with caplog.at_level(logging.INFO):
        for _ in range(40):
            assert client.get(f"/en/letters/{SLUG}/").status_code == 503
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "database unavailable" in lines[0].getMessage()


def test_outage_log_counts_repeats_and_says_when_it_ends(caplog, monkeypatch):
    outages.forget_all()
    clock = [1000.0]
    monkeypatch.setattr(outages.time, "monotonic", lambda: clock[0])
    with caplog.at_level(logging.INFO, logger="petition.outage"):
        for _ in range(500):
            outages.report("database", ConnectionRefusedError())
            clock[0] += 0.01
        clock[0] += outages.REPEAT_SECONDS
        outages.report("database", ConnectionRefusedError())
        outages.recovered("database")
        outages.recovered("database")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert "still unavailable" in messages[1] and "500 more" in messages[1]
    assert "available again" in messages[2]


def test_an_unexpected_error_during_a_write_does_not_promise_it_was_saved(make_app):
    app = make_app()
    app.config["WTF_CSRF_ENABLED"] = False

    def boom():
        raise RuntimeError("a bug, not an outage")

    app.add_url_rule("/en/test-boom", "test_boom", boom, methods=["GET", "POST"])
    client = app.test_client()
    response = client.post("/en/test-boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "may not have been saved" in page and "Nothing you sent was lost" not in page
    assert "Retry-After" not in response.headers
    response = client.get("/en/test-boom")
    assert response.status_code == 500
    assert "Please try again later" in response.get_data(as_text=True)
