"""The open-letters platform: create_app() builds one configured application."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from petition.config import ROOT, Config, ConfigError

TRANSLATION_ROOT = Path(__file__).resolve().parent


def _translation_directories() -> str:
    """Each feature area keeps its own catalogue (petition/<area>/translations), so the
    areas' strings can be extracted and translated independently; Flask-Babel merges them."""
    dirs = [str(p) for p in sorted(TRANSLATION_ROOT.glob("*/translations")) if p.is_dir()]
    return ";".join(dirs) or str(TRANSLATION_ROOT / "web" / "translations")


def create_app(config: Config | None = None) -> Flask:
    if config is None:
        try:
            config = Config.from_env()
        except ConfigError as exc:  # a message for the person starting the site, not a traceback
            raise SystemExit(f"error: {exc}") from None
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(config.flask_settings())
    app.config["PETITION"] = config
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = _translation_directories()

    from petition.security.numbers import BoundedIntConverter
    from petition.security.signed import SessionInterface

    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added

    app.session_interface = SessionInterface()

    from petition.logs import configure_logging

    configure_logging(app, config)

    if config.TRUSTED_PROXIES:
        # Only as many X-Forwarded-For hops as there are proxies we run are believed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.TRUSTED_PROXIES, x_proto=1, x_host=0)

    from petition.extensions import babel, csrf, db, login_manager, migrate
    from petition.i18n import select_locale, select_timezone
    from petition.security.limits import limiter

    db.init_app(app)
    from petition.database import init_app as init_database

    init_database(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone, default_translation_directories=app.config["BABEL_TRANSLATION_DIRECTORIES"])
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    _import_models()
    from petition.console import auth as _auth  # noqa: F401  (registers the user loader)

    from petition import web

    web.init_app(app)

    from petition.api.views import make_blueprint as api_blueprint
    from petition.letters.views import make_blueprint as letters_blueprint
    from petition.signing.views import make_blueprint as signing_blueprint
    from petition.signing.withdraw_code_views import make_blueprint as withdraw_codes_blueprint

    app.register_blueprint(letters_blueprint())
    app.register_blueprint(signing_blueprint())
    app.register_blueprint(withdraw_codes_blueprint())
    app.register_blueprint(api_blueprint())

    from petition.bundles.cli import bundle_cli, keys_cli
    from petition.bundles.views import make_blueprint as bundles_blueprint

    app.register_blueprint(bundles_blueprint())
    from petition.paper.views import make_blueprint as paper_blueprint

    app.register_blueprint(paper_blueprint())
    app.cli.add_command(bundle_cli)
    app.cli.add_command(keys_cli)

    from petition.console import auth as console_auth
    from petition.console.updates import make_blueprint as updates_blueprint
    from petition.console.privacy_desk import make_blueprint as privacy_desk_blueprint
    from petition.console.views import make_blueprint as console_blueprint
    from petition.organisations.views import make_blueprint as organisations_blueprint

    console_auth.init_app(app)
    app.register_blueprint(organisations_blueprint())
    app.register_blueprint(console_blueprint())
    app.register_blueprint(updates_blueprint())
    app.register_blueprint(privacy_desk_blueprint())

    from petition.deliveries.cli import deliveries_cli
    from petition.deliveries.views import make_blueprint as deliveries_blueprint

    app.register_blueprint(deliveries_blueprint())
    app.cli.add_command(deliveries_cli)

    from petition.health import init_app as init_health

    init_health(app)

    from petition.security.headers import init_app as init_headers

    init_headers(app)

    from petition.jobs.cli import jobs_cli
    from petition.letters.cli import letters_cli
    from petition.mail.cli import outbox_cli
    from petition.signing.cli import signatures_cli

    app.cli.add_command(letters_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(signatures_cli)
    app.cli.add_command(jobs_cli)

    from petition.console.cli import users_cli

    app.cli.add_command(users_cli)

    from petition.letters.services import init_app as init_letters

    init_letters(app)

    from petition.jobs.runner import init_app as init_jobs
    from petition.mail.sender import init_app as init_mail

    init_mail(app)
    init_jobs(app)

    from petition.privacy.cli import privacy_cli
    from petition.security.limits import apply_limits

    app.cli.add_command(privacy_cli)
    # Last, so that every blueprint's views exist to be wrapped by their limits.
    apply_limits(app)
    return app


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


logging.getLogger("petition").addHandler(logging.NullHandler())
