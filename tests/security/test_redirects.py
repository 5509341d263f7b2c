"""After login, `next` leads only to a path on this site.

Attack: `/en/console/login?next=/%09/evil.example` sent the lead to evil.example (the
browser drops the tab and reads `//evil.example`)."""
from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest

from petition.security.redirects import local_path
from tests.console.support import PASSWORD, fresh_code, make_user
from tests.helpers import csrf_token

SITE = "https://letters.example.org/en/console/login"

# Known open-redirect payloads (as the view receives them: query-decoded once).
PAYLOADS = [
    "//evil.example", "///evil.example", "////evil.example/", "/\t/evil.example", "/\n/evil.example",
    "/\r\n/evil.example", "/\\evil.example", "\\\\evil.example", "/\\/evil.example", "\\/evil.example",
    " //evil.example", "\x00//evil.example", "/\x00/evil.example", "https://evil.example/", "http:evil.example",
    "http:/evil.example", "https:\\\\evil.example", "//evil.example@letters.example.org", "/%2F/evil.example",
    "/%5C/evil.example", "/%09/evil.example", "/.//evil.example", "/./../evil.example", "javascript:alert(1)",
    "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", "//evil%2Eexample", "/\u3000/evil.example",
    "//\u2215evil.example", "/\u2044/evil.example", "//[::1]/", "//[", "/[", "evil.example", "?next=//evil.example",
    "#//evil.example", "/" + "a" * 600,
]


def _browser_target(location: str) -> str:
    """Where a browser goes: it drops tabs and newlines and reads "\\" as "/"."""
    cleaned = "".join(ch for ch in location if ch not in "\t\n\r").replace("\\", "/")
    return urljoin(SITE, cleaned)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_payload_leaves_the_site(payload):
    result = local_path(payload)
    if result is None:
        return
    assert result.startswith("/") and not result.startswith("//"), result
    assert all(0x20 < ord(ch) < 0x7F for ch in result) and "\\" not in result, result
    assert urlsplit(_browser_target(result)).netloc == "letters.example.org", result


@pytest.mark.parametrize("target, kept", [
    ("/en/console/", "/en/console/"),
    ("/ar/console/letters/secure-our-socials/signatures?before=20&q=x", "/ar/console/letters/secure-our-socials/signatures?before=20&q=x"),
    ("/fr/console/letters/a%20b", "/fr/console/letters/a%2520b"),
    ("/", "/"),
])
def test_local_paths_are_kept(target, kept):
    assert local_path(target) == kept


def test_the_reported_payload_through_the_real_login(app, client):
    account = make_user(app, role="admin")
    url = "/en/console/login?next=/%09/evil.example"
    page = client.get(url)
    assert client.post(url, data={"csrf_token": csrf_token(page.text), "email": account.email,
                                  "password": PASSWORD}).status_code == 303
    page = client.get("/en/console/login/totp")
    response = client.post("/en/console/login/totp", data={"csrf_token": csrf_token(page.text),
                                                           "code": fresh_code(app, account)})
    assert response.status_code == 303
    assert urlsplit(_browser_target(response.headers["Location"])).netloc in ("", "letters.example.org", "localhost")
    assert "evil" not in response.headers["Location"]
