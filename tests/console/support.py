"""Helpers for console tests: accounts made by the real service, logins through the real
two-step form (password, then a TOTP code computed with pyotp)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import pyotp

from petition.accounts import User
from petition.console import auth
from petition.extensions import db
from petition.letters import services as letters
from tests.helpers import csrf_token

PASSWORD = "correct horse battery staple"


@dataclass
class Account:
    id: int
    email: str
    secret: str
    password: str = PASSWORD


def make_user(app, email: str = "lead@example.org", role: str = "lead", slugs: tuple[str, ...] = (),
              name: str = "Lina Lead") -> Account:
    with app.app_context():
        user, secret = auth.create_user(db.session, email=email, name=name, role=role, password=PASSWORD)
        for slug in slugs:
            user.letters.append(letters.letter_row(slug))
        db.session.commit()
        return Account(id=user.id, email=email, secret=secret)


def fresh_code(app, account: Account) -> str:
    """A code for a time step the account has not used yet (codes are single use)."""
    with app.app_context():
        last = db.session.get(User, account.id).last_totp_step
        db.session.remove()
    totp = pyotp.TOTP(account.secret)
    step = int(time.time() // 30)
    if last is not None and last >= step:
        step = last + 1
    return totp.at(step * 30)


def login(client, app, account: Account, lang: str = "en", code: str | None = None):
    page = client.get(f"/{lang}/console/login")
    response = client.post(f"/{lang}/console/login", data={
        "csrf_token": csrf_token(page.text), "email": account.email, "password": account.password})
    assert response.status_code == 303, response.status_code
    page = client.get(f"/{lang}/console/login/totp")
    return client.post(f"/{lang}/console/login/totp", data={
        "csrf_token": csrf_token(page.text), "code": code or fresh_code(app, account)})


def logged_in(client, app, account: Account, lang: str = "en"):
    response = login(client, app, account, lang)
    assert response.status_code == 303, response.status_code
    return client


def post_form(client, page_path: str, action: str, **fields):
    """Load a console page for its CSRF token, then post to action."""
    page = client.get(page_path)
    assert page.status_code == 200, (page_path, page.status_code)
    return client.post(action, data={"csrf_token": csrf_token(page.text), **fields})


def confirm(client, action: str, data: dict):
    """Post an irreversible action, check that it only answers with its confirmation page
    (console/confirm.html), then press that page's button. Returns the second response."""
    import html as html_lib
    import re

    asked = client.post(action, data=data)
    assert asked.status_code == 200, (action, asked.status_code)
    page = asked.text
    assert 'name="confirmed" type="hidden" value="yes"' in page, "no confirmation page"
    fields = {name: html_lib.unescape(value)
              for name, value in re.findall(r'<input name="([^"]+)" type="hidden" value="([^"]*)">', page)}
    fields.update({name: html_lib.unescape(value)
                   for name, value in re.findall(r'<textarea name="([^"]+)" hidden>(.*?)</textarea>', page, re.S)})
    return client.post(action, data=fields)
