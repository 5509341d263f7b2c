"""create_app(): the core's extensions, then each area's init_app (its blueprints, CLI commands
and hooks), the web glue, and the rate limits last."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from petition import (api, bundles, caching, console, database, deliveries, health, jobs, letters, mail, organisations, paper,
                      privacy, signing, updates, web)
from petition.config import ROOT, Config, ConfigError
from petition.extensions import babel, csrf, db, login_manager, migrate
from petition.i18n import select_locale, select_timezone
from petition.logs import configure_logging
from petition.security import headers
from petition.security.limits import apply_limits, limiter
from petition.security.numbers import BoundedIntConverter
from petition.security.session_cookie import SessionInterface
from petition.web import schema_gate

TRANSLATION_ROOT = Path(__file__).resolve().parent


def _translation_directories() -> str:
    """Each feature area keeps its own catalogue (petition/<area>/translations), so the
    areas' strings can be extracted and translated independently; Flask-Babel merges them."""
    dirs = [str(p) for p in sorted(TRANSLATION_ROOT.glob("*/translations")) if p.is_dir()]
    return ";".join(dirs) or str(TRANSLATION_ROOT / "web" / "translations")


def create_app(config: Config | None = None) -> Flask:
    """The core first (extensions, then the schema gate before anything else of a request),
    each area's pages, CLI commands and hooks, the web glue, and the limits last."""
    app = _flask_app(config or _config_from_environment())
    _init_extensions(app)
    schema_gate.init_app(app)
    # The in-process workers last (the outbox sender, then the job worker): the first
    # request that passed every other area's checks starts them.
    for area in (letters, signing, organisations, bundles, paper, console, deliveries, updates, privacy,
                 web, api, health, headers, mail, jobs):
        area.init_app(app)
    # Once every area listens to letters.services.synced (signing adds each letter's
    # counter shards): synced before that, a new letter's confirmations counted nowhere.
    letters.sync_at_start(app)
    # Last, so that every blueprint's views exist to be wrapped by their limits.
    apply_limits(app)
    return app


def _config_from_environment() -> Config:
    try:
        return Config.from_env()
    except ConfigError as exc:  # a message for the person starting the site, not a traceback
        raise SystemExit(f"error: {exc}") from None


def _flask_app(config: Config) -> Flask:
    app = Flask(__package__, instance_path=str(ROOT / "instance"), template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"))
    app.config.update(config.flask_settings())
    app.config["PETITION"] = config
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = _translation_directories()
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    app.session_interface = SessionInterface()  # a cookie's length tells nothing of its content
    configure_logging(app, config)
    if config.TRUSTED_PROXIES:
        # Only as many X-Forwarded-For hops as there are proxies we run are believed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.TRUSTED_PROXIES, x_proto=1, x_host=0)
    return app


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    database.init_app(app)
    caching.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories=app.config["BABEL_TRANSLATION_DIRECTORIES"])
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    _import_models()


def _import_models() -> None:
    """Every area's models, so Alembic and create_all see the whole schema."""
    from petition import accounts as _accounts, audit as _audit  # noqa: F401
    from petition.bundles import models as _bundles  # noqa: F401
    from petition.deliveries import models as _deliveries  # noqa: F401
    from petition.jobs import models as _jobs  # noqa: F401
    from petition.letters import models as _letters  # noqa: F401
    from petition.mail import models as _mail  # noqa: F401
    from petition.organisations import models as _organisations  # noqa: F401
    from petition.paper import models as _paper  # noqa: F401
    from petition.signing import models as _signing  # noqa: F401

