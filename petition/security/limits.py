"""Every rate limit of the site, in one place and driven by config.

apply_limits(app) runs in create_app after the blueprints are registered: it wraps the
view functions by endpoint name, so the feature areas carry no limiter decorators and
the limits can be read (and changed) here and in config.

Three kinds of limits, because behind Tor or a carrier NAT thousands of people share one
client address and a per-address limit alone would lock them all out or let a flood in:

* per client (a keyed hash of the address; Flask-Limiter's own expiring counters are the
  only place it exists) on the pages a script would hammer;
* per mailbox: the signing intake caps the emails one mailbox receives per letter per
  day (MAIL_PER_ADDRESS_PER_DAY), whatever is submitted and from wherever;
* per letter: the signing intake paces the requests of one letter
  (INTAKE_PER_LETTER_PER_MINUTE): a flood waits its turn, and never closes the letter to
  other people, as a brake that refused requests would.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app, request
from flask_limiter import Limiter

from petition.security.keys import client_key

log = logging.getLogger("petition.security")

# Limits are keyed on a hash of the client address (security.keys), never the address itself.
# Sliding-window counters: two counters per key and window, where a moving window keeps
# one entry per request (a 3000/minute surge brake would hold 3000 per letter) and costs
# a script run over them on every check.
limiter = Limiter(key_func=client_key, strategy="sliding-window-counter")


def _setting(name: str) -> Callable[[], str]:
    def provider() -> str:
        return getattr(current_app.config["PETITION"], name)
    provider.__name__ = f"limit_{name.lower()}"
    return provider


# (setting, methods, shared scope or None). Shared scopes put several endpoints in one
# bucket: probing confirm, withdraw and unsubscribe links all counts together.
EXPLICIT: dict[str, tuple[str, list[str] | None, str | None]] = {
    "signing.sign": ("RATELIMIT_SIGN", ["POST"], None),
    "organisations.sign": ("RATELIMIT_ORG_SIGN", ["POST"], None),
    "console.login": ("RATELIMIT_LOGIN", ["POST"], "login"),
    "console.totp": ("RATELIMIT_LOGIN", ["POST"], "login"),
    "console.login_totp": ("RATELIMIT_LOGIN", ["POST"], "login"),
    # Receipt codes are 60 random bits, but a checking page is still not a guessing game.
    "deliveries.receipt": ("RATELIMIT_CONFIRM", ["POST"], "links"),
    "withdraw_codes.enter": ("RATELIMIT_WITHDRAW_CODE", ["POST"], None),
}

# Limits on all clients together, on top of their per-client limit above: a guessing
# run spread over many addresses still meets a ceiling.
EVERYONE: dict[str, tuple[str, list[str] | None]] = {
    "withdraw_codes.enter": ("RATELIMIT_WITHDRAW_CODE_GLOBAL", ["POST"]),
}


def _everyone() -> str:
    return "everyone"

# One limit object per rule for the life of the process: Flask-Limiter keeps decorated
# limits in sets keyed by the view's qualified name, so re-using the objects keeps a
# second app (tests build many) from stacking duplicate limits.
_limit_objects: dict[tuple, object] = {}


def _limit(setting: str, methods: list[str] | None, scope: str | None, everyone: bool = False):
    key = (setting, tuple(methods or ()), scope, everyone)
    if key not in _limit_objects:
        if everyone:
            _limit_objects[key] = limiter.shared_limit(_setting(setting), scope=f"everyone-{setting.lower()}",
                                                       key_func=_everyone, methods=methods)
        elif scope:
            _limit_objects[key] = limiter.shared_limit(_setting(setting), scope=scope, methods=methods)
        else:
            _limit_objects[key] = limiter.limit(_setting(setting), methods=methods)
    return _limit_objects[key]


def rule_for(app: Flask, endpoint: str) -> tuple[str, list[str] | None, str | None] | None:
    """Which limit an endpoint gets, if any."""
    if endpoint in EXPLICIT:
        return EXPLICIT[endpoint]
    if endpoint.startswith("api."):
        return ("RATELIMIT_API", None, "api")
    arguments = set()
    for rule in app.url_map.iter_rules(endpoint):
        arguments |= set(rule.arguments)
    if "token" in arguments:  # confirm, withdraw, unsubscribe, organisation links
        return ("RATELIMIT_CONFIRM", None, "links")
    return None


def apply_limits(app: Flask) -> dict[str, str]:
    """Wrap the limited view functions; returns {endpoint: setting} for inspection."""
    applied: dict[str, str] = {}
    methods: dict[str, frozenset[str] | None] = {}
    for endpoint, view in list(app.view_functions.items()):
        rule = rule_for(app, endpoint)
        if rule is None:
            continue
        view = _limit(*rule)(view)
        if endpoint in EVERYONE:
            view = _limit(*EVERYONE[endpoint], None, everyone=True)(view)
        app.view_functions[endpoint] = view
        applied[endpoint] = rule[0]
        methods[endpoint] = frozenset(rule[1]) if rule[1] else None
    app.extensions["petition.limits"] = applied
    app.extensions["petition.limited_methods"] = methods
    return applied


@limiter.request_filter
def _nothing_to_limit() -> bool:
    """Let a request through Flask-Limiter at once when its endpoint and method have no
    limit here (the signing form, the letter pages, the redirects after a POST).

    There are no default or application-wide limits, yet Flask-Limiter would still
    resolve and evaluate an empty set of limits for every request."""
    limited = current_app.extensions.get("petition.limited_methods", {})
    if request.endpoint not in limited:
        return True
    methods = limited[request.endpoint]
    return methods is not None and request.method not in methods
