"""Every number read from a URL is bounded: huge, negative and non-numeric values give a
page or a 4xx, never a 5xx.

Attack: `?before=99999999999999999999999` on a letter's signature list was a 500."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from petition.security.numbers import MAX_ID, int_arg
from tests.console.support import logged_in, make_user

ROOT = Path(__file__).resolve().parents[2]
SLUG = "secure-our-socials"
HOSTILE = ["99999999999999999999999", "9" * 400, "-1", "-99999999999999999999999", "abc", "1e9", "0x10",
           "１２", "²", "٣", " 12 ", "+5", "", "NaN", "1.5", "%00", "9223372036854775808"]

# Every query argument read as a number, with a page that reads it.
PUBLIC = [f"/en/letters/{SLUG}/signatures?before={{}}", f"/ar/letters/{SLUG}/signatures?before={{}}"]
CONSOLE = [
    f"/en/console/letters/{SLUG}/signatures?before={{}}",
    f"/en/console/letters/{SLUG}/signatures?id={{}}",
    f"/en/console/letters/{SLUG}/updates?queued={{}}",
    "/en/console/audit?before={}",
    f"/en/console/letters/{SLUG}/signatures/{{}}",  # a number in the path
]


def test_no_view_reads_numbers_on_its_own():
    """New code must use int_arg (or the bounded int converter): `type=int` and int() of
    request data would let any size through."""
    offenders = []
    for path in (ROOT / "petition").rglob("*.py"):
        text = path.read_text()
        if re.search(r"request\.(args|values)\.get\([^)]*type\s*=", text) or re.search(r"int\(\s*request\.", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.parametrize("value", HOSTILE)
def test_public_signature_list(client, value):
    from urllib.parse import quote

    for template in PUBLIC:
        response = client.get(template.format(quote(value)))
        assert response.status_code < 500, (template, value, response.status_code)
        assert response.status_code in (200, 400, 404)


def test_console_numbers(make_app):
    from urllib.parse import quote

    bare_app = make_app()
    account = make_user(bare_app, role="admin", slugs=(SLUG,))
    client = logged_in(bare_app.test_client(), bare_app, account)
    for template in CONSOLE:
        for value in HOSTILE:
            response = client.get(template.format(quote(value)))
            assert response.status_code < 500, (template, value, response.status_code)


def test_path_numbers_out_of_range_are_no_match(make_app):
    bare_app = make_app()
    account = make_user(bare_app, role="admin", slugs=(SLUG,))
    client = logged_in(bare_app.test_client(), bare_app, account)
    assert client.get(f"/en/console/letters/{SLUG}/signatures/{MAX_ID + 1}").status_code == 404
    assert client.get(f"/en/console/letters/{SLUG}/signatures/{MAX_ID}").status_code == 404  # no such row


@pytest.mark.parametrize("raw, expected", [
    ("12", 12), ("99999999999999999999999", MAX_ID), ("-5", 0), ("+7", 7), ("abc", None), ("²", None),
    ("٣", None), ("", None), ("1" * 41, None),
])
def test_int_arg(raw, expected):
    app = Flask(__name__)
    with app.test_request_context("/", query_string={"n": raw}):
        assert int_arg("n") == expected
    with app.test_request_context("/", query_string={"n": raw}):
        assert int_arg("n", default=3, minimum=1, maximum=10) == (3 if expected is None else min(max(expected, 1), 10))
