"""`flask --app wsgi users ...`: console accounts are created here, never on the web."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from petition import audit
from petition.accounts import ROLES, User
from petition.console import auth
from petition.extensions import db
from petition.letters import services as letters


@click.group("users", help="Campaign leads' and administrators' console accounts.")
def users_cli() -> None:
    pass


def _user(email: str) -> User:
    user = auth.find_user(db.session, email)
    if user is None:
        raise click.ClickException(f"no user {email!r}")
    return user


def _letters(slugs: tuple[str, ...]):
    rows = []
    for slug in slugs:
        row = letters.letter_row(slug)
        if row is None:
            raise click.ClickException(f"no letter {slug!r} (run `flask --app wsgi letters sync`?)")
        rows.append(row)
    return rows


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        auth.check_password_strength(password)
    except auth.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    return password


def _show_totp(user: User, secret: str) -> None:
    click.echo("")
    click.echo("Two-factor code: add this account to an authenticator app (shown only now).")
    click.echo(f"  otpauth URI:  {auth.provisioning_uri(user, secret)}")
    click.echo(f"  secret:       {secret}")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True, help="Shown in the audit log.")
@click.option("--role", type=click.Choice(ROLES), default="lead", show_default=True)
@click.option("--letter", "slugs", multiple=True, help="A letter this lead runs (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@with_appcontext
def create(email: str, name: str, role: str, slugs: tuple[str, ...], password_stdin: bool) -> None:
    """Create an account and print its TOTP secret once."""
    rows = _letters(slugs)
    password = _read_password(password_stdin)
    try:
        user, secret = auth.create_user(db.session, email=email, name=name, role=role, password=password)
    except auth.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    for row in rows:
        user.letters.append(row)
    audit.record(db.session, None, "users.create", None, user=user.id, role=role, letters=list(slugs))
    db.session.commit()
    click.echo(f"created {role} {user.email}" + (f" for {', '.join(slugs)}" if slugs else ""))
    _show_totp(user, secret)


@users_cli.command("assign")
@click.option("--email", required=True)
@click.option("--letter", "slugs", multiple=True, required=True)
@click.option("--remove", is_flag=True, help="Take the letters away instead.")
@with_appcontext
def assign(email: str, slugs: tuple[str, ...], remove: bool) -> None:
    """Give a lead letters to run (or take them away with --remove)."""
    user = _user(email)
    for row in _letters(slugs):
        if remove and row in user.letters:
            user.letters.remove(row)
        elif not remove and row not in user.letters:
            user.letters.append(row)
    audit.record(db.session, None, "users.unassign" if remove else "users.assign", None, user=user.id, letters=list(slugs))
    db.session.commit()
    click.echo(f"{user.email}: {', '.join(sorted(r.slug for r in user.letters)) or 'no letters'}")


@users_cli.command("list")
@with_appcontext
def list_users() -> None:
    """Every account, its role, letters and state."""
    for user in db.session.scalars(select(User).order_by(User.role, User.email)):
        state = "active" if user.active else "deactivated"
        if auth.is_locked(user):
            state += ", locked"
        slugs = "all letters" if user.is_admin else (", ".join(sorted(r.slug for r in user.letters)) or "no letters")
        click.echo(f"{user.email}\t{user.role}\t{state}\t{slugs}")


@users_cli.command("reset-totp")
@click.option("--email", required=True)
@with_appcontext
def reset_totp(email: str) -> None:
    """A new TOTP secret (lost phone); ends the user's sessions."""
    user = _user(email)
    secret = auth.set_totp(user)
    auth.end_sessions(user)
    audit.record(db.session, None, "users.reset_totp", None, user=user.id)
    db.session.commit()
    click.echo(f"new two-factor secret for {user.email}")
    _show_totp(user, secret)


@users_cli.command("reset-password")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True)
@with_appcontext
def reset_password(email: str, password_stdin: bool) -> None:
    """Set a new password; ends the user's sessions and lifts a lock."""
    user = _user(email)
    user.password_hash = auth.hash_password(_read_password(password_stdin))
    auth.unlock(user)
    auth.end_sessions(user)
    audit.record(db.session, None, "users.reset_password", None, user=user.id)
    db.session.commit()
    click.echo(f"password changed for {user.email}")


@users_cli.command("unlock")
@click.option("--email", required=True)
@with_appcontext
def unlock(email: str) -> None:
    """Lift the lock after too many failed logins."""
    user = _user(email)
    auth.unlock(user)
    db.session.commit()
    click.echo(f"{user.email} unlocked")


@users_cli.command("deactivate")
@click.option("--email", required=True)
@with_appcontext
def deactivate(email: str) -> None:
    """Stop an account at once (its sessions end); the audit log keeps its name."""
    user = _user(email)
    user.active = False
    auth.end_sessions(user)
    audit.record(db.session, None, "users.deactivate", None, user=user.id)
    db.session.commit()
    click.echo(f"{user.email} deactivated")
