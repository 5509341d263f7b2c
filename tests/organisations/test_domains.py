import pytest

from petition.organisations.domains import WebsiteRejected, contact_matches, normalise_website, registrable_domain


@pytest.mark.parametrize("host, expected", [
    ("www.helem.net", "helem.net"),
    ("helem.net", "helem.net"),
    ("www.smex.org.lb", "smex.org.lb"),
    ("news.bbc.co.uk", "bbc.co.uk"),
    ("a.b.example.com", "example.com"),
    ("localhost", "localhost"),
])
def test_registrable_domain(host, expected):
    assert registrable_domain(host) == expected


@pytest.mark.parametrize("email_domain, website, expected", [
    ("helem.net", "https://www.helem.net/", True),
    ("mail.helem.net", "https://www.helem.net/", True),
    ("smex.org", "https://smex.org/en", True),
    ("gmail.com", "https://www.helem.net/", False),
    ("evilhelem.net", "https://helem.net/", False),
    ("helem.net.evil.com", "https://helem.net/", False),
    ("org.lb", "https://smex.org.lb/", False),
    ("anything.org", None, None),
])
def test_contact_matches(email_domain, website, expected):
    assert contact_matches(email_domain, website) is expected


@pytest.mark.parametrize("raw, expected", [
    ("helem.net", "https://helem.net/"),
    ("HTTPS://WWW.Helem.NET/ar?x=1", "https://www.helem.net/ar?x=1"),
    ("http://example.org/path", "http://example.org/path"),
    ("https://مثال.مصر/", "https://xn--mgbh0fb.xn--wgbh1c/"),
    ("", ""),
])
def test_normalise_website(raw, expected):
    assert normalise_website(raw) == expected


@pytest.mark.parametrize("raw", [
    "javascript:alert(1)", "ftp://example.org", "https://user:pw@example.org", "https://example",
    "https://example.org:8080/", "https://exa mple.org", "https://127.0.0.1/", "x" * 400, "https://", "https://.org",
])
def test_normalise_website_refuses(raw):
    with pytest.raises(WebsiteRejected):
        normalise_website(raw)
