"""Nobody can learn whether an address signed by typing it into the form: the response
to step 1 is the same for a new, pending, confirmed and withdrawn address."""
from __future__ import annotations

import re
import statistics
import time

from tests.helpers import confirm_from_mail, form_values, links_in, outbox_messages, sign_letter

TOKEN_RE = re.compile(r'value="[^"]{20,}"')


def masked(response) -> tuple[int, str, str, str]:
    body = TOKEN_RE.sub('value="…"', response.text)
    return response.status_code, response.headers.get("Location", ""), body, response.headers.get("Cache-Control", "")


def submit(client, email):
    response = sign_letter(client, email=email)
    followed = client.get(response.headers["Location"])
    return response, followed


def prepare_states(app, client):
    sign_letter(client, email="pending@example.org")
    sign_letter(client, email="confirmed@example.org")
    confirm_from_mail(client, app)
    sign_letter(client, email="withdrawn@example.org")
    confirm_from_mail(client, app)
    path = links_in(outbox_messages(app)[-1].text, "withdraw")[0]
    client.post(path, data=form_values(client.get(path).text))


def test_identical_responses_whatever_the_address_state(app, client):
    prepare_states(app, client)
    outcomes = []
    for email in ("new@example.org", "pending@example.org", "confirmed@example.org", "withdrawn@example.org"):
        response, followed = submit(client, email)
        outcomes.append((masked(response), masked(followed), sorted(response.headers.keys())))
    assert all(outcome == outcomes[0] for outcome in outcomes), "responses differ by address state"


def test_timing_does_not_tell_states_apart(app, client):
    """Medians over repeated submissions stay within a small margin of each other.
    (A loose bound: this guards against an extra email or query on one path only.)"""
    prepare_states(app, client)
    app.config["PETITION"].MAIL_PER_ADDRESS_PER_DAY = 10_000
    timings: dict[str, list[float]] = {}
    for _ in range(12):
        for email in ("fresh{}@example.org", "pending@example.org", "confirmed@example.org"):
            address = email.format(time.perf_counter_ns())
            page = client.get("/en/letters/secure-our-socials/sign")
            data = form_values(page.text) | dict(name="A B", email=address, country="LB", affiliation="",
                                                  public_visibility="full", bundle_visibility="named")
            started = time.perf_counter()
            client.post("/en/letters/secure-our-socials/sign", data=data)
            timings.setdefault(email, []).append(time.perf_counter() - started)
    medians = [statistics.median(values) for values in timings.values()]
    assert max(medians) - min(medians) < max(0.02, 0.6 * min(medians)), medians
