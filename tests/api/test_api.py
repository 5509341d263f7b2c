from __future__ import annotations

import pytest

from tests.helpers import confirm_from_mail, sign_letter

FIELDS = {"slug", "title", "status", "languages", "addressees", "url", "counts"}


def test_list_shape(client):
    response = client.get("/api/v1/letters")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "max-age" in response.headers["Cache-Control"] and "public" in response.headers["Cache-Control"]
    letters = {item["slug"]: item for item in response.json["letters"]}
    assert set(letters) == {"secure-our-socials", "protect-women-hrds"}
    for item in letters.values():
        assert FIELDS <= set(item)
        assert set(item["counts"]) == {"individuals", "online", "paper", "organizations"}
    socials = letters["secure-our-socials"]
    assert socials["languages"] == ["en", "fr", "ar", "el"]
    assert set(socials["title"]) == {"en", "fr", "ar", "el"}
    assert socials["addressees"] == [{"company": "Meta", "platforms": ["Facebook", "Instagram"]}]
    assert socials["url"] == "http://petition.test/en/letters/secure-our-socials/"
    assert socials["counts"] == {"individuals": 0, "online": 0, "paper": 0, "organizations": 5}
    assert [a["company"] for a in letters["protect-women-hrds"]["addressees"]] == ["Meta", "X", "Telegram"]


def test_detail_and_counts_follow_confirmations(app, client):
    sign_letter(client, email="one@example.org")
    assert client.get("/api/v1/letters/secure-our-socials").json["counts"]["individuals"] == 0
    confirm_from_mail(client, app)
    detail = client.get("/api/v1/letters/secure-our-socials").json
    assert detail["counts"]["individuals"] == 1
    assert detail["status"] == "open"


def test_api_never_returns_personal_data(app, client):
    sign_letter(client, email="private.person@example.org", name="Private Person")
    confirm_from_mail(client, app)
    for path in ("/api/v1/letters", "/api/v1/letters/secure-our-socials"):
        body = client.get(path).text
        assert "private.person" not in body and "Private Person" not in body


@pytest.mark.parametrize("path", ["/api/v1/letters/nope", "/api/v1/letters/../../etc", "/api/v1/nothing"])
def test_api_errors_are_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json["error"]["status"] == 404
