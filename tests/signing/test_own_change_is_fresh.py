"""A signer's own next page counts them, whichever gunicorn worker serves it.

Each worker keeps its own few-seconds-old copies of a letter's count and page
(petition/caching.py). The worker that confirms forgets its copy; the others do not
hear of it. Two apps on one database stand for two workers here: the signer confirms
on one and goes "Back to the letter" on the other, which still holds the old page.
"""
from __future__ import annotations

import re

import pytest

from petition import caching, create_app
from tests.helpers import confirm_from_mail, make_config, outbox_messages, sign_letter

SLUG = "secure-our-socials"
PAGE = f"/en/letters/{SLUG}/"
LONG = dict(COUNT_CACHE_SECONDS=60.0, LETTER_CACHE_SECONDS=60.0)


def shown_count(html: str) -> int:
    [value] = re.findall(r"<progress[^>]*\bvalue=\"(\d+)\"", html)
    return int(value)


@pytest.fixture
def two_workers(make_app, tmp_path):
    first = make_app(**LONG)
    second = create_app(make_config(tmp_path, **LONG))  # the same database, caches of its own
    return first, second


def move_cookies(source, target) -> None:
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_the_signers_next_page_on_another_worker_counts_them(two_workers):
    worker_a, worker_b = two_workers
    stranger = worker_a.test_client()
    before = shown_count(stranger.get(PAGE).text)  # worker A now holds the page

    signer_on_b = worker_b.test_client()
    assert sign_letter(signer_on_b).status_code in (200, 303)
    confirmed = confirm_from_mail(signer_on_b, worker_b, outbox_messages(worker_b)[-1])
    assert confirmed.status_code == 200

    # Worker A did not hear of it: a stranger's view there is the copy from before ...
    assert shown_count(stranger.get(PAGE).text) == before
    # ... but the signer's own next request, served by worker A, is read afresh.
    signer_on_a = worker_a.test_client()
    move_cookies(signer_on_b, signer_on_a)
    assert shown_count(signer_on_a.get(PAGE).text) == before + 1
    # That render refreshed the copy for everyone on worker A.
    assert shown_count(stranger.get(PAGE).text) == before + 1


def test_the_mark_is_a_time_and_goes_once_it_has_run_out(two_workers, monkeypatch):
    worker_a, worker_b = two_workers
    signer = worker_b.test_client()
    sign_letter(signer)
    confirm_from_mail(signer, worker_b, outbox_messages(worker_b)[-1])
    with signer.session_transaction() as session:
        # Nothing about the letter or the signer: a time, no more.
        assert set(session) - {"csrf_token"} == {"fresh_until"}
        assert isinstance(session["fresh_until"], int)
        until = session["fresh_until"]

    real_time = caching.time.time
    monkeypatch.setattr(caching.time, "time", lambda: real_time() + (until - real_time()) + 1)
    signer.get(PAGE)
    with signer.session_transaction() as session:
        assert "fresh_until" not in session


def test_a_stranger_is_served_the_copy(two_workers, monkeypatch):
    """Reading afresh is the exception for a visitor's own change, not the rule: without
    the mark, a second view of the letter page renders nothing (the surge defence)."""
    worker_a, _ = two_workers
    renders = []
    from petition.signing import queries

    real = queries.recent_public
    monkeypatch.setattr(queries, "recent_public", lambda *a, **k: renders.append(1) or real(*a, **k))
    client = worker_a.test_client()
    client.get(PAGE)
    client.get(PAGE)
    assert len(renders) == 1


def test_after_withdrawing_with_a_code_their_next_page_no_longer_counts_them(two_workers):
    from tests.helpers import withdraw_code_in
    from tests.signing.test_withdraw_codes import enter_code

    worker_a, worker_b = two_workers
    signer_on_b = worker_b.test_client()
    sign_letter(signer_on_b)
    code = withdraw_code_in(confirm_from_mail(signer_on_b, worker_b, outbox_messages(worker_b)[-1]).text)
    stranger = worker_a.test_client()
    counted = shown_count(stranger.get(PAGE).text)  # worker A holds the page with them in it
    assert counted >= 1
    with signer_on_b.session_transaction() as session:
        session.pop("fresh_until")  # the confirmation's mark: only the withdrawal's counts here

    assert enter_code(signer_on_b, code, confirm=True).status_code == 303
    assert shown_count(stranger.get(PAGE).text) == counted  # A's copy, from before
    signer_on_a = worker_a.test_client()
    move_cookies(signer_on_b, signer_on_a)
    assert shown_count(signer_on_a.get(PAGE).text) == counted - 1


def test_reading_afresh_ends_with_the_request(two_workers):
    """The mark is the request's own: the thread's next work (a CLI command, a worker's
    job, the next test) is served the copies again."""
    worker_a, worker_b = two_workers
    signer = worker_b.test_client()
    sign_letter(signer)
    confirm_from_mail(signer, worker_b, outbox_messages(worker_b)[-1])
    signer.get(PAGE)  # a request that reads afresh, in this thread
    computed = []
    with worker_b.app_context():
        for _ in range(2):
            caching.cache("test.after_request").get("key", 60, lambda: computed.append(1) or "value")
    assert computed == [1]
