"""One typed configuration object, read from the environment and checked at start-up.

Development generates its secrets once and keeps them under ``instance/`` so a fresh
clone runs with no set-up; production refuses to start without real ones.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

from cryptography.fernet import Fernet
from limits import parse_many

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"

ENVIRONMENTS = ("development", "production", "testing")
INSECURE_SECRETS = {"", "dev", "secret", "changeme", "change-me", "development"}


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which variable and why."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    value = value.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected a boolean (1/0, true/false), got {value!r}")


def _int(value: str | None, default: int) -> int:
    if value is None or value.strip() == "":
        return default
    return int(value)


def _instance_secret(name: str, make) -> str:
    """Read a development secret from instance/, creating it on first use."""
    path = INSTANCE / name
    try:
        INSTANCE.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(make())
        return path.read_text().strip()
    except OSError as exc:
        raise _instance_unwritable(path, exc) from None


def _instance_unwritable(path: Path, exc: OSError) -> "ConfigError":
    return ConfigError(
        f"cannot create {path} ({exc.strerror or exc.__class__.__name__}).\n"
        f"  Development keeps its database, secrets and mail in {INSTANCE}: make that directory\n"
        f"  writable by this user (e.g. `chown -R $(id -un) {INSTANCE}`), or set SECRET_KEY,\n"
        f"  DATA_KEYS, HASH_KEY and DATABASE_URL in the environment (see README, Configuration)."
    )


@dataclass
class Config:
    ENV: str = "development"
    SECRET_KEY: str = ""
    # Fernet keys for personal data at rest, newest first (MultiFernet): rotate by
    # prepending a new key and running `flask --app wsgi privacy rotate-keys`.
    DATA_KEYS: list[str] = field(default_factory=list)
    # HMAC key for the keyed hashes of addresses (duplicate detection, mail limits).
    HASH_KEY: str = ""
    DATABASE_URL: str = ""
    # A dependency that hangs must cost a request seconds, not minutes. PostgreSQL:
    # seconds to connect; seconds a statement may run (0: no limit; deploy/gunicorn.conf.py
    # sets 25 for web workers, below gunicorn's own timeout). Dead network paths are
    # found by TCP keepalives and tcp_user_timeout (DATABASE_TCP_TIMEOUT seconds).
    DATABASE_CONNECT_TIMEOUT: int = 5
    DATABASE_STATEMENT_TIMEOUT: int = 0
    DATABASE_TCP_TIMEOUT: int = 20
    PUBLIC_URL: str = "http://127.0.0.1:5000"
    LETTERS_DIR: str = str(ROOT / "letters")

    MAIL_SERVER: str = ""
    MAIL_PORT: int = 25
    MAIL_USERNAME: str = ""
    MAIL_PASSWORD: str = ""
    MAIL_USE_TLS: bool = False
    MAIL_USE_SSL: bool = False
    MAIL_DEFAULT_SENDER: str = "Open letters <letters@localhost>"
    # Sender name used for letters with discreet mail: reveals nothing of the topic.
    MAIL_DISCREET_SENDER: str = "Notifications <letters@localhost>"
    # Seconds an SMTP connect, read or write may take before the relay counts as down.
    MAIL_TIMEOUT: int = 10
    # Seconds an outbox sender's claim on its rows lasts (renewed while it works): a
    # killed sender's mail goes out from another sender this long after, at most.
    OUTBOX_LEASE_SECONDS: int = 60
    OUTBOX_DIR: str = str(INSTANCE / "outbox")
    # Deliver queued mail from a thread inside the web process (the embedded default).
    OUTBOX_IN_PROCESS: bool = True
    # Per address and letter, how many emails one calendar day may bring.
    MAIL_PER_ADDRESS_PER_DAY: int = 3

    RATELIMIT_ENABLED: bool = True
    RATELIMIT_STORAGE_URI: str = "memory://"
    REDIS_URL: str = ""
    # Seconds to connect to Redis and to wait for each answer (the rate limiter's storage
    # and /healthz). Limits fail open: past this the request goes on without them, and
    # the limiter stops asking Redis for a while (it retries after 1, 2, 4 ... 32 s).
    REDIS_TIMEOUT: float = 0.5
    # How many reverse proxies in front of the app may set X-Forwarded-For.
    TRUSTED_PROXIES: int = 0
    # Per-client limits count an IPv6 client by its network of this many bits (one
    # household or phone is given a /64); IPv4 clients by their address.
    CLIENT_IPV6_PREFIX: int = 64
    # Per-client limits (keyed hash of the client address), in the limits library's
    # notation ("10/minute;60/hour"). Behind Tor or a carrier NAT many people share one
    # address, so these are generous; the per-address mail cap and the surge brake
    # below do the real work against floods.
    RATELIMIT_SIGN: str = "10/minute;60/hour"
    RATELIMIT_ORG_SIGN: str = "5/minute;20/hour"
    RATELIMIT_CONFIRM: str = "30/minute;300/hour"  # confirm and withdraw pages
    RATELIMIT_LOGIN: str = "5/minute;30/hour"
    RATELIMIT_API: str = "120/minute;2000/hour"
    # The "withdraw with a code" page (POSTs only): per client, and all clients together.
    # Codes carry 80 random bits, so these bound the work, not the odds of a guess; the
    # global one is generous so that a flood of guesses hardly slows real signers down.
    RATELIMIT_WITHDRAW_CODE: str = "10/minute;60/hour"
    RATELIMIT_WITHDRAW_CODE_GLOBAL: str = "600/minute;20000/hour"
    # Per-letter pace of the intake: signing requests (individuals and organisations
    # together) handled per letter per minute, across every worker. Beyond it nobody is
    # refused: requests wait their turn (their confirmation mail is later), other letters
    # go on, and the letter's leads are told once an hour. The default is 50 a second,
    # what one small server's mail relay takes; raise it when you scale out.
    INTAKE_PER_LETTER_PER_MINUTE: int = 3000
    # Quiet defences: a form sent sooner than this after it was shown, or later than
    # FORM_MAX_AGE_HOURS, or with the honeypot filled, is dropped without a word.
    # 0 switches the timing check off (tests and load benchmarks).
    MIN_FILL_SECONDS: int = 3
    FORM_MAX_AGE_HOURS: int = 6

    TOKEN_MAX_AGE_DAYS: int = 7
    # Batched publication (signing/publication.py): a confirmed public name appears with
    # at least PUBLICATION_BATCH_OTHERS other new names, or PUBLICATION_MAX_DELAY_HOURS
    # after its confirmation, whichever comes first; the job worker looks every
    # PUBLICATION_CHECK_SECONDS.
    PUBLICATION_BATCH_OTHERS: int = 10
    PUBLICATION_MAX_DELAY_HOURS: int = 24
    PUBLICATION_CHECK_SECONDS: int = 60
    COUNT_CACHE_SECONDS: float = 2.0
    # Public pages read a letter's row (status, dates) from a per-process copy at most
    # this old; a status change made in this process is seen at once, one made on
    # another app server within this many seconds.
    LETTER_CACHE_SECONDS: float = 1.0
    SESSION_HOURS: int = 8
    LOG_LEVEL: str = "INFO"
    # Where "Exit this page" goes: a neutral site that draws no attention.
    EXIT_URL: str = "https://www.bbc.com/weather"

    # Delivery bundles: the PKCS#12 file (key + certificate) that signs every bundle.
    # Empty: instance/bundle-signing.p12 made by `flask --app wsgi keys init`, with its
    # passphrase in instance/bundle-signing.pass.
    BUNDLE_PKCS12_PATH: str = ""
    BUNDLE_PKCS12_PASSPHRASE: str = ""
    # Worker processes rendering the signatory pages (0: in the building process).
    BUNDLE_WORKERS: int = 2
    # An RFC 3161 timestamp authority (http:// or https:// URL). Set, every bundle's
    # signature carries a trusted time (PAdES B-T); empty, bundles are signed without one
    # and their cover and manifest say so.
    BUNDLE_TSA_URL: str = ""
    BUNDLE_TSA_USERNAME: str = ""
    BUNDLE_TSA_PASSWORD: str = ""
    BUNDLE_TSA_TIMEOUT: int = 20
    # PEM file of the certificates that anchor the TSA's and the signing certificate's
    # chains. With it, the chains and any revocation data (OCSP/CRL) that can be fetched
    # are embedded and a document timestamp added (PAdES B-LTA); without it, B-T.
    BUNDLE_TRUST_ROOTS: str = ""

    @property
    def is_production(self) -> bool:
        return self.ENV == "production"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Config":
        env = dict(os.environ if env is None else env)
        errors: list[str] = []
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f.name)
            if f.name in overrides:
                values[f.name] = overrides[f.name]
                continue
            if raw is None:
                continue
            try:
                if f.type == "bool":
                    values[f.name] = _bool(raw, False)
                elif f.type == "int":
                    values[f.name] = _int(raw, 0)
                elif f.type == "float":
                    values[f.name] = float(raw)
                elif f.type == "list[str]":
                    values[f.name] = [k.strip() for k in raw.split(",") if k.strip()]
                else:
                    values[f.name] = raw
            except ValueError as exc:
                errors.append(f"{f.name}: {exc}")
        if "ENV" not in values and env.get("PETITION_ENV"):
            values["ENV"] = env["PETITION_ENV"]
        if errors:
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))
        config = cls(**values)
        config._fill_defaults()
        config.validate()
        return config

    def _fill_defaults(self) -> None:
        if not self.DATABASE_URL:
            try:
                INSTANCE.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _instance_unwritable(INSTANCE, exc) from None
            self.DATABASE_URL = f"sqlite:///{INSTANCE / 'petition.db'}"
        if self.DATABASE_URL.startswith("postgres://"):
            self.DATABASE_URL = "postgresql://" + self.DATABASE_URL[len("postgres://"):]
        if self.DATABASE_URL.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; SQLAlchemy's bare scheme means psycopg2.
            self.DATABASE_URL = "postgresql+psycopg://" + self.DATABASE_URL[len("postgresql://"):]
        if self.ENV == "development":
            if not self.SECRET_KEY:
                self.SECRET_KEY = _instance_secret("secret_key", lambda: secrets.token_urlsafe(48))
            if not self.DATA_KEYS:
                self.DATA_KEYS = [_instance_secret("data_key", lambda: Fernet.generate_key().decode())]
            if not self.HASH_KEY:
                self.HASH_KEY = _instance_secret("hash_key", lambda: secrets.token_urlsafe(48))
        if self.ENV == "production" and "OUTBOX_IN_PROCESS" not in os.environ:
            # Production runs `flask outbox work` senders; see README.
            self.OUTBOX_IN_PROCESS = False

    def validate(self) -> None:
        problems: list[str] = []
        if self.ENV not in ENVIRONMENTS:
            problems.append(f"PETITION_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.ENV!r}")
        if self.SECRET_KEY.strip().lower() in INSECURE_SECRETS or len(self.SECRET_KEY) < 32:
            problems.append("SECRET_KEY must be a random string of at least 32 characters")
        if len(self.HASH_KEY) < 32:
            problems.append("HASH_KEY must be a random string of at least 32 characters")
        if self.HASH_KEY and self.HASH_KEY == self.SECRET_KEY:
            problems.append("HASH_KEY must differ from SECRET_KEY")
        if not self.DATA_KEYS:
            problems.append("DATA_KEYS must hold at least one Fernet key (comma-separated, newest first)")
        for key in self.DATA_KEYS:
            try:
                Fernet(key.encode())
            except (ValueError, TypeError):
                problems.append("DATA_KEYS holds a value that is not a Fernet key")
                break
        if self.MAIL_USE_TLS and self.MAIL_USE_SSL:
            problems.append("MAIL_USE_TLS and MAIL_USE_SSL exclude each other")
        if not 2 <= self.OUTBOX_LEASE_SECONDS <= 600:
            problems.append("OUTBOX_LEASE_SECONDS must be between 2 and 600")
        if self.DATABASE_CONNECT_TIMEOUT < 1 or self.DATABASE_STATEMENT_TIMEOUT < 0 or self.DATABASE_TCP_TIMEOUT < 1:
            problems.append("DATABASE_CONNECT_TIMEOUT and DATABASE_TCP_TIMEOUT must be at least 1 second, "
                            "DATABASE_STATEMENT_TIMEOUT 0 (none) or more")
        if not 0 < self.REDIS_TIMEOUT <= 30:
            problems.append("REDIS_TIMEOUT must be between 0 and 30 seconds")
        if self.MAIL_TIMEOUT < 1:
            problems.append("MAIL_TIMEOUT must be at least 1 second")
        if not 0 <= self.TRUSTED_PROXIES <= 5:
            problems.append("TRUSTED_PROXIES must be between 0 and 5")
        if not 16 <= self.CLIENT_IPV6_PREFIX <= 128:
            problems.append("CLIENT_IPV6_PREFIX must be between 16 and 128 (64: one client per /64)")

        for name in ("RATELIMIT_SIGN", "RATELIMIT_ORG_SIGN", "RATELIMIT_CONFIRM", "RATELIMIT_LOGIN",
                     "RATELIMIT_API", "RATELIMIT_WITHDRAW_CODE", "RATELIMIT_WITHDRAW_CODE_GLOBAL"):
            try:
                parse_many(getattr(self, name))
            except ValueError:
                problems.append(f"{name} must be a rate limit such as '10/minute;60/hour'")
        if self.PUBLICATION_BATCH_OTHERS < 0 or self.PUBLICATION_MAX_DELAY_HOURS < 0 or self.PUBLICATION_CHECK_SECONDS < 1:
            problems.append("PUBLICATION_BATCH_OTHERS and PUBLICATION_MAX_DELAY_HOURS must be 0 or more, "
                            "PUBLICATION_CHECK_SECONDS at least 1")
        if self.BUNDLE_TSA_URL and not self.BUNDLE_TSA_URL.startswith(("http://", "https://")):
            problems.append("BUNDLE_TSA_URL must be an http:// or https:// address")
        if self.BUNDLE_TRUST_ROOTS and not self.BUNDLE_TSA_URL:
            problems.append("BUNDLE_TRUST_ROOTS needs BUNDLE_TSA_URL (long-term validation starts from a timestamp)")
        if self.MIN_FILL_SECONDS < 0 or self.FORM_MAX_AGE_HOURS < 1:
            problems.append("MIN_FILL_SECONDS must be 0 or more and FORM_MAX_AGE_HOURS at least 1")
        if self.ENV == "production":
            if not self.PUBLIC_URL.startswith("https://"):
                problems.append("PUBLIC_URL must be an https:// address in production")
            if self.DATABASE_URL.startswith("sqlite") and ":memory:" in self.DATABASE_URL:
                problems.append("DATABASE_URL cannot be an in-memory database in production")
            if not self.MAIL_SERVER:
                problems.append("MAIL_SERVER must be set in production")
        if problems:
            raise ConfigError("refusing to start:\n  " + "\n  ".join(problems))

    def postgres_connect_args(self) -> dict[str, object]:
        """libpq's own timeouts: connecting, dead peers (keepalives; unacknowledged data
        with tcp_user_timeout) and, when set, statements (a startup option: behind
        PgBouncer add `options` to its ignore_startup_parameters)."""
        args: dict[str, object] = {
            "connect_timeout": self.DATABASE_CONNECT_TIMEOUT,
            "keepalives": 1,
            "keepalives_idle": max(1, self.DATABASE_TCP_TIMEOUT // 2),
            "keepalives_interval": max(1, self.DATABASE_TCP_TIMEOUT // 6),
            "keepalives_count": 3,
            "tcp_user_timeout": self.DATABASE_TCP_TIMEOUT * 1000,
        }
        if self.DATABASE_STATEMENT_TIMEOUT:
            args["options"] = f"-c statement_timeout={self.DATABASE_STATEMENT_TIMEOUT * 1000}"
        return args

    def redis_options(self) -> dict[str, object]:
        """redis-py's timeouts, for every Redis client of the site."""
        return {"socket_timeout": self.REDIS_TIMEOUT, "socket_connect_timeout": self.REDIS_TIMEOUT}

    def flask_settings(self) -> dict[str, object]:
        """The Flask and extension settings derived from this config."""
        # hide_parameters: a database error never carries row values into a log line.
        # No pool_pre_ping: it costs a round trip on every request; petition.database
        # pings only connections that sat idle in the pool (see ping_idle_connections).
        engine_options: dict[str, object] = {"hide_parameters": True}
        if self.DATABASE_URL.startswith("sqlite"):
            engine_options = {"connect_args": {"timeout": 30}, "hide_parameters": True}
        elif self.DATABASE_URL.startswith("postgresql"):
            engine_options["connect_args"] = self.postgres_connect_args()
        return {
            "SECRET_KEY": self.SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": self.DATABASE_URL,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "SQLALCHEMY_TRACK_MODIFICATIONS": False,
            "WTF_CSRF_TIME_LIMIT": 6 * 3600,
            "WTF_CSRF_SSL_STRICT": False,  # no-referrer means no Referer to check
            "RATELIMIT_ENABLED": self.RATELIMIT_ENABLED,
            "RATELIMIT_STORAGE_URI": self.RATELIMIT_STORAGE_URI,
            # No X-RateLimit-* headers: each costs the storage another round trip on every
            # limited request, and people filling forms never read them. A 429 still says
            # when to come back (Retry-After, set by petition.web.errors).
            "RATELIMIT_HEADERS_ENABLED": False,
            # A limiter storage outage (Redis down) is logged and lets requests through:
            # losing limits for a while is better than refusing every signer with a 500.
            "RATELIMIT_SWALLOW_ERRORS": True,
            # A Redis that hangs: each call gives up after REDIS_TIMEOUT, and after one
            # failure Flask-Limiter marks the storage dead (one log line) and asks it again
            # only now and then (after 1, 2, 4 ... 32 s), so a hung Redis costs a request
            # its timeout once, not every request. Meanwhile limits fail open: the
            # in-memory "fallback" limit is one nobody reaches (and the surge brake skips).
            "RATELIMIT_STORAGE_OPTIONS": self.redis_options() if "redis" in self.RATELIMIT_STORAGE_URI else {},
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
            "RATELIMIT_IN_MEMORY_FALLBACK": "1000000/second",
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.is_production,
            "SESSION_COOKIE_NAME": "__Host-session" if self.is_production else "session",
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SECURE": self.is_production,
            "PREFERRED_URL_SCHEME": "https" if self.is_production else "http",
            "MAX_CONTENT_LENGTH": 64 * 1024,
            "TESTING": self.ENV == "testing",
        }
