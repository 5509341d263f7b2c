"""Configuration: read from the environment, checked at start-up; production refuses
insecure defaults; development makes and keeps its own secrets."""
from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from petition import config as config_module
from petition.config import Config, ConfigError

GOOD_PRODUCTION = {
    "PETITION_ENV": "production",
    "SECRET_KEY": "s" * 48,
    "HASH_KEY": "h" * 48,
    "DATA_KEYS": Fernet.generate_key().decode(),
    "PUBLIC_URL": "https://letters.example.org",
    "MAIL_SERVER": "smtp.example.org",
    "DATABASE_URL": "postgresql://app@db/letters",
}


def test_production_with_real_settings_starts():
    config = Config.from_env(GOOD_PRODUCTION)
    assert config.is_production
    assert config.DATABASE_URL == "postgresql+psycopg://app@db/letters"
    settings = config.flask_settings()
    assert settings["SESSION_COOKIE_SECURE"] is True and settings["SESSION_COOKIE_HTTPONLY"] is True
    assert config.OUTBOX_IN_PROCESS is False  # production runs `flask outbox work`


@pytest.mark.parametrize(
    "change, complaint",
    [
        ({"SECRET_KEY": "dev"}, "SECRET_KEY"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"HASH_KEY": "short"}, "HASH_KEY"),
        ({"HASH_KEY": "s" * 48}, "HASH_KEY must differ"),
        ({"DATA_KEYS": ""}, "DATA_KEYS"),
        ({"DATA_KEYS": "not-a-fernet-key"}, "DATA_KEYS"),
        ({"PUBLIC_URL": "http://letters.example.org"}, "https"),
        ({"MAIL_SERVER": ""}, "MAIL_SERVER"),
        ({"MAIL_USE_TLS": "1", "MAIL_USE_SSL": "1"}, "exclude each other"),
        ({"MAIL_PORT": "twenty-five"}, "MAIL_PORT"),
        ({"RATELIMIT_ENABLED": "perhaps"}, "RATELIMIT_ENABLED"),
        ({"PETITION_ENV": "staging"}, "PETITION_ENV"),
    ],
)
def test_production_refuses_insecure_or_broken_settings(change, complaint):
    env = {**GOOD_PRODUCTION, **change}
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env)
    assert complaint in str(caught.value)


def test_development_generates_and_keeps_secrets(tmp_path, monkeypatch):
    monkeypatch.setattr(config_module, "INSTANCE", tmp_path)
    first = Config.from_env({"PETITION_ENV": "development"})
    second = Config.from_env({"PETITION_ENV": "development"})
    assert first.SECRET_KEY == second.SECRET_KEY and len(first.SECRET_KEY) >= 32
    assert first.DATA_KEYS == second.DATA_KEYS and first.HASH_KEY == second.HASH_KEY
    assert first.HASH_KEY != first.SECRET_KEY
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert first.DATABASE_URL == f"sqlite:///{tmp_path / 'petition.db'}"


def test_environment_values_are_typed():
    config = Config.from_env({**GOOD_PRODUCTION, "MAIL_PORT": "587", "MAIL_USE_TLS": "true", "RATELIMIT_ENABLED": "0",
                              "DATA_KEYS": GOOD_PRODUCTION["DATA_KEYS"] + "," + Fernet.generate_key().decode()})
    assert config.MAIL_PORT == 587 and config.MAIL_USE_TLS is True and config.RATELIMIT_ENABLED is False
    assert len(config.DATA_KEYS) == 2


def test_data_keys_rotate(app):
    """MultiFernet: data written under the old key still reads after a new key is prepended."""
    from petition import crypto

    token = crypto.encrypt("someone@example.org")
    config = app.config["PETITION"]
    config.DATA_KEYS = [Fernet.generate_key().decode()] + config.DATA_KEYS
    assert crypto.decrypt(token) == "someone@example.org"
    rotated = crypto.rotate(token)
    config.DATA_KEYS = config.DATA_KEYS[:1]
    assert crypto.decrypt(rotated) == "someone@example.org"
    with pytest.raises(RuntimeError):
        crypto.decrypt(token)


def test_a_read_only_instance_directory_is_a_clear_message_not_a_traceback(tmp_path, monkeypatch):
    """A fresh start where instance/ cannot be written: the message names the directory
    and the fix; create_app exits with it instead of a traceback."""
    import shutil
    import subprocess

    from petition import config as config_module, create_app

    if not shutil.which("chattr"):
        pytest.skip("chattr is not installed")
    instance = tmp_path / "instance"
    instance.mkdir()
    # Immutable: nothing can be created inside, even by root (as on a read-only mount).
    if subprocess.run(["chattr", "+i", str(instance)], capture_output=True).returncode != 0:
        pytest.skip("this file system does not support chattr +i")
    monkeypatch.setattr(config_module, "INSTANCE", instance)
    for name in ("SECRET_KEY", "DATA_KEYS", "HASH_KEY", "DATABASE_URL", "PETITION_ENV"):
        monkeypatch.delenv(name, raising=False)
    try:
        with pytest.raises(ConfigError) as caught:
            Config.from_env(env={"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
        message = str(caught.value)
        assert str(instance / "secret_key") in message
        assert "writable" in message and "SECRET_KEY" in message
        with pytest.raises(SystemExit) as exited:
            create_app()
        assert str(exited.value).startswith("error: cannot create")
    finally:
        subprocess.run(["chattr", "-i", str(instance)], check=True)
