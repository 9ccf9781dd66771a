"""Configuration: file, environment overrides, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from tests.harness import ROOT


def test_defaults_are_embedded_and_relative_to_the_config_file() -> None:
    config = load_config(ROOT / "config.yaml", environ={})
    assert config.database.url == f"sqlite:///{ROOT / 'var' / 'parentvoice.db'}"
    assert config.rasa.manage is True
    assert config.channels.telegram.enabled is False
    assert config.channels.telegram.api_base_url == "https://api.telegram.org"


def test_environment_overrides_any_key() -> None:
    config = load_config(
        ROOT / "config.yaml",
        environ={
            "PARENTVOICE__DATABASE__URL": "postgresql+psycopg://pv@db/pv",
            "PARENTVOICE__SERVER__PORT": "9001",
            "PARENTVOICE__RASA__MANAGE": "false",
            "PARENTVOICE__CHANNELS__TELEGRAM__ENABLED": "true",
            "PARENTVOICE__CHANNELS__TELEGRAM__TOKEN": "1:abc",
            "PARENTVOICE__SECURITY__PSEUDONYM_KEY": "a-much-longer-secret-key",
        },
    )
    assert config.database.url == "postgresql+psycopg://pv@db/pv"
    assert config.server.port == 9001
    assert config.rasa.manage is False
    assert config.channels.telegram.token == "1:abc"
    assert config.security.pseudonym_key == b"a-much-longer-secret-key"


def test_environment_values_are_taken_as_strings() -> None:
    config = load_config(
        ROOT / "config.yaml",
        environ={
            "PARENTVOICE__CHANNELS__TELEGRAM__WEBHOOK_SECRET": "no",
            "PARENTVOICE__CHANNELS__TELEGRAM__TOKEN": "12:34",
            "PARENTVOICE__RASA__TOKEN": "0777",
        },
    )
    assert config.channels.telegram.webhook_secret == "no"
    assert config.channels.telegram.token == "12:34"
    assert config.rasa.token == "0777"


def test_parentvoice_config_selects_another_file(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text((ROOT / "config.yaml").read_text().replace("port: 8000", "port: 8123"))
    assert load_config(environ={"PARENTVOICE_CONFIG": str(other)}).server.port == 8123


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PARENTVOICE__SERVER__PORT": "eighty"}, "server.port must be a whole number"),
        ({"PARENTVOICE__RASA__MANAGE": "maybe"}, "rasa.manage must be true or false"),
        ({"PARENTVOICE__RASA__MAX_IN_FLIGHT": "0"}, "rasa.max_in_flight must be at least 1"),
        ({"PARENTVOICE__RASA__LOCK_STORE": "memcached://h:1"}, "rasa.lock_store must be empty or"),
        ({"PARENTVOICE__RASA__TRACKER_DB": "mysql://h/db"}, "must be a file path or a postgresql"),
        ({"PARENTVOICE__RASA__URL": "http://a:5005,http://b:5005"}, "names several Rasa workers"),
        ({"PARENTVOICE__SECURITY__VAULT_KEY": "short"}, "security.vault_key must be a Fernet key"),
        ({"PARENTVOICE__SECURITY__PSEUDONYM_KEY": "short"}, "pseudonym_key must be at least 16"),
        (
            {"PARENTVOICE__CHANNELS__TELEGRAM__ENABLED": "true"},
            "channels.telegram.token is required",
        ),
        ({"PARENTVOICE__LOGGING__LEVEL": "LOUD"}, "logging.level must be"),
        ({"PARENTVOICE__SCHEDULE__QUIET_HOURS": "9pm-8am"}, "'9pm' is not a time like 08:00"),
        ({"PARENTVOICE__SCHEDULE__TIMEZONE": "London"}, "unknown time zone 'London'"),
        ({"PARENTVOICE__SCHEDULE__REMINDER_AFTER_HOURS": "-1"}, "reminder_after_hours must be 0"),
        ({"PARENTVOICE__SCHEDULE__POLL_SECONDS": "0"}, "poll_seconds must be above 0"),
    ],
)
def test_bad_values_raise_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(ROOT / "config.yaml", environ=env)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_schedule_defaults_and_turning_quiet_hours_and_reminders_off() -> None:
    config = load_config(ROOT / "config.yaml", environ={})
    assert config.schedule.quiet.describe() == "21:00-08:00 Europe/London"
    assert config.schedule.reminder_after is not None
    assert config.schedule.reminder_after.total_seconds() == 20 * 3600
    off = load_config(
        ROOT / "config.yaml",
        environ={
            "PARENTVOICE__SCHEDULE__QUIET_HOURS": "",
            "PARENTVOICE__SCHEDULE__REMINDER_AFTER_HOURS": "0",
        },
    )
    assert off.schedule.quiet.describe() == "none" and off.schedule.reminder_after is None


def test_a_public_deployment_takes_every_secret_from_the_environment(tmp_path: Path) -> None:
    public = {"PARENTVOICE__SERVER__PUBLIC_URL": "https://pv.example.org"}
    # config.yaml's development keys are refused once the app is public...
    with pytest.raises(ConfigError, match=r"security.pseudonym_key must come from the environment"):
        load_config(ROOT / "config.yaml", environ=public)
    keys = {
        "PARENTVOICE__SECURITY__PSEUDONYM_KEY": "a-long-synthetic-pseudonym-key",
        "PARENTVOICE__SECURITY__VAULT_KEY": "c3ludGhldGljLXZhdWx0LWtleS0wMTIzNDU2Nzg5YWI=",
    }
    config = load_config(ROOT / "config.yaml", environ=public | keys)  # ...and fine from the env
    assert config.security.pseudonym_key == b"a-long-synthetic-pseudonym-key"
    # A secret written into a config file is refused too, whichever it is.
    with pytest.raises(ConfigError, match=r"channels.twilio.auth_token must come from"):
        load_config(_with(tmp_path, 'auth_token: ""', "auth_token: in-the-file"),
                    environ=public | keys)  # fmt: skip


def _with(tmp: Path, old: str, new: str) -> Path:
    """A copy of config.yaml with one line changed."""
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    assert old in text, old
    copy = tmp / "config.yaml"
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


def test_several_rasa_workers_share_a_postgresql_tracker_store_and_a_redis_lock_store() -> None:
    config = load_config(
        ROOT / "config.yaml",
        environ={
            "PARENTVOICE__RASA__MANAGE": "false",
            "PARENTVOICE__RASA__URL": "http://10.0.0.5:5005/, http://10.0.0.6:5005",
            "PARENTVOICE__RASA__TRACKER_DB": "postgresql://rasa@db.internal/trackers",
            "PARENTVOICE__RASA__LOCK_STORE": "redis://cache.internal:6379/2",
        },
    )
    assert config.rasa.urls == ("http://10.0.0.5:5005", "http://10.0.0.6:5005")
    assert config.rasa.tracker_db == "postgresql://rasa@db.internal/trackers"
    assert config.rasa.lock_store == "redis://cache.internal:6379/2"
