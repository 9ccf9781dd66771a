"""Configuration: loaded once from YAML plus environment overrides into frozen, typed objects.

This is the only module that reads the environment. Everything else receives a ``Config``.
``PARENTVOICE_CONFIG`` selects the file (default ``config.yaml``); ``PARENTVOICE__SECTION__KEY``
(or ``PARENTVOICE__CHANNELS__TELEGRAM__TOKEN`` for nested sections) overrides any key.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError
from bot.pseudonym import pseudonym_keys
from bot.quiet_hours import QuietHours

ENV_PREFIX = "PARENTVOICE__"


@dataclass(frozen=True)
class DatabaseConfig:
    url: str


@dataclass(frozen=True)
class ServerConfig:
    host: str
    port: int
    public_url: str
    max_body_bytes: int
    per_sender_per_minute: int  # flood control (bot/flood.py); 0 turns it off


@dataclass(frozen=True)
class RasaConfig:
    url: str  # one Rasa, or several workers: "http://10.0.0.5:5005,http://10.0.0.6:5005"
    manage: bool
    token: str
    project_dir: Path
    model_dir: Path
    tracker_db: Path | str  # a SQLite file, or a PostgreSQL URL that several workers share
    tracker_retention_days: int
    timeout_seconds: float
    max_in_flight: int
    lock_store: str  # "" (one Rasa) or redis://HOST:PORT/DB, shared by several workers

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(part.strip().rstrip("/") for part in self.url.split(",") if part.strip())


@dataclass(frozen=True)
class FlowsConfig:
    dir: Path
    default: str
    default_language: str


@dataclass(frozen=True)
class TelegramConfig:
    enabled: bool
    token: str
    webhook_secret: str
    api_base_url: str
    per_chat_per_second: float  # Telegram's advice: about one message a second in one chat


@dataclass(frozen=True)
class WebConfig:
    enabled: bool


@dataclass(frozen=True)
class TwilioConfig:
    enabled: bool
    account_sid: str
    auth_token: str
    messaging_service_sid: str
    sms_from: str
    whatsapp_from: str
    api_base_url: str
    per_second: float  # messages per second per sender (Twilio's limit depends on the number type)
    # WhatsApp outside the 24-hour window: approved template ContentSid per message kind and
    # language, e.g. {"reminder": {"en": "HX..."}}. The message text goes in as variable "1".
    whatsapp_templates: dict[str, dict[str, str]]


@dataclass(frozen=True)
class ChannelsConfig:
    telegram: TelegramConfig
    web: WebConfig
    twilio: TwilioConfig


@dataclass(frozen=True)
class SecurityConfig:
    pseudonym_key: bytes  # the current key: new pseudonyms, and the redactor's digests
    vault_key: bytes
    # Older pseudonym keys while rotating ("NEW,OLD"), newest first: parents still known by a
    # pseudonym made with one of them are found, and re-keyed (bot/pseudonym.py).
    pseudonym_old_keys: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class OutboxConfig:
    max_attempts: int
    per_channel_per_second: float


HELPLINES = {  # shown to parents in signposting texts; set per deployment
    "emergency": "999",
    "urgent_medical": "NHS 111",
    "samaritans": "116 123",
    "shout": "85258",
    "domestic_abuse": "0808 2000 247",
    "nspcc": "0808 800 5000",
}


@dataclass(frozen=True)
class SafeguardingConfig:
    classifier: bool  # the trained second layer; the patterns always run
    helplines: dict[str, str]
    staff_telegram_chat_id: str  # a Telegram chat staff alerts go to ("" for none)
    staff_webhook_url: str  # an HTTPS endpoint staff alerts are POSTed to ("" for none)
    staff_webhook_secret: str  # signs each webhook body (HMAC-SHA256)


@dataclass(frozen=True)
class ScheduleConfig:
    quiet: QuietHours  # no reminders or outcomes go out inside these hours
    reminder_after: timedelta | None  # one reminder this long after a parent went quiet; None: off
    poll_seconds: float  # how often the app looks for due outcomes, reminders and expiries


@dataclass(frozen=True)
class RetentionConfig:
    transcript_days: int  # ended conversations older than this are deleted; 0 keeps them
    idle_days: int  # an address without follow-up consent goes this long after the last message
    followup_days: int  # an address with follow-up consent goes this long after the last message


@dataclass(frozen=True)
class LoggingConfig:
    level: str
    file: Path | None


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig
    server: ServerConfig
    rasa: RasaConfig
    flows: FlowsConfig
    channels: ChannelsConfig
    security: SecurityConfig
    outbox: OutboxConfig
    safeguarding: SafeguardingConfig
    schedule: ScheduleConfig
    retention: RetentionConfig
    logging: LoggingConfig
    root: Path  # directory relative paths are resolved against (the config file's directory)


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load the config file and apply environment overrides; raise ``ConfigError`` when invalid."""
    env = os.environ if environ is None else environ
    file = Path(path or env.get("PARENTVOICE_CONFIG") or "config.yaml")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {file}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {file} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {file} must contain a mapping")
    _apply_env_overrides(raw, env)
    config = _build(raw, file.resolve().parent)
    _secrets_from_environment(config, raw, env)
    return config


# Secrets, by their key path. A public deployment (server.public_url is https://) must take each one
# it uses from the environment, never from a file that can end up in a repository or a backup.
SECRET_KEYS = (
    ("security", "pseudonym_key"),
    ("security", "vault_key"),
    ("rasa", "token"),
    ("channels", "telegram", "token"),
    ("channels", "telegram", "webhook_secret"),
    ("channels", "twilio", "auth_token"),
    ("safeguarding", "staff_webhook_secret"),
)


def _secrets_from_environment(config: Config, raw: dict[str, Any], env: Mapping[str, str]) -> None:
    if not config.server.public_url.startswith("https://"):
        return  # local use: the development values in config.yaml are fine
    for path in SECRET_KEYS:
        node: Any = raw
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        name = ENV_PREFIX + "__".join(key.upper() for key in path)
        if node not in (None, "") and name not in env:
            raise ConfigError(
                f"{'.'.join(path)} must come from the environment ({name}) when server.public_url "
                "is https://: secrets do not belong in a config file"
            )


def _apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        node = raw
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {'.'.join(keys)} is not a section")
            node = child
        # Kept as a string: the typed getters convert. (YAML-parsing it would turn a secret such as
        # "no" into False, or "12:34" into a sexagesimal number.)
        node[keys[-1]] = value


class _Section:
    """Typed access to one mapping, with errors that name the full key."""

    def __init__(self, raw: Any, name: str) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{name} must be a mapping")
        self._raw = raw
        self._name = name

    def section(self, key: str) -> _Section:
        return _Section(self._raw.get(key), f"{self._name}.{key}")

    def text(self, key: str, default: str | None = None) -> str:
        value = self._raw.get(key, default)
        if value is None:
            raise ConfigError(f"{self._name}.{key} is required")
        return str(value)

    def integer(self, key: str, default: int) -> int:
        value = self._raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(f"{self._name}.{key} must be a whole number")
        try:
            return int(value)
        except ValueError as exc:
            raise ConfigError(f"{self._name}.{key} must be a whole number, got {value!r}") from exc

    def number(self, key: str, default: float) -> float:
        value = self._raw.get(key, default)
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self._name}.{key} must be a number, got {value!r}") from exc

    def flag(self, key: str, default: bool) -> bool:
        value = self._raw.get(key, default)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise ConfigError(f"{self._name}.{key} must be true or false, got {value!r}")

    def mapping(self, key: str) -> Any:
        """A nested value given as YAML, or as JSON text from the environment."""
        value = self._raw.get(key) or {}
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ConfigError(
                    f"{self._name}.{key} must be JSON when set from the environment"
                ) from exc
        return value

    def path(self, key: str, default: str, root: Path) -> Path:
        value = Path(self.text(key, default))
        return value if value.is_absolute() else root / value


def _tracker_db(rasa: _Section, root: Path) -> Path | str:
    """rasa.tracker_db: a SQLite file path, or a postgresql:// URL (several Rasa workers)."""
    value = rasa.text("tracker_db", "var/rasa-tracker.db")
    if "://" not in value:
        return rasa.path("tracker_db", "var/rasa-tracker.db", root)
    if not value.startswith(("postgresql://", "postgresql+psycopg://")):
        raise ConfigError(
            "rasa.tracker_db must be a file path or a postgresql:// URL, got "
            f"{value.split('://')[0]}://…"
        )
    return value


def _build(raw: dict[str, Any], root: Path) -> Config:
    top = _Section(raw, "config")
    db, server, rasa = top.section("database"), top.section("server"), top.section("rasa")
    flows, channels, security = (
        top.section("flows"),
        top.section("channels"),
        top.section("security"),
    )
    telegram, outbox, logging_ = (
        channels.section("telegram"),
        top.section("outbox"),
        top.section("logging"),
    )

    vault_key = security.text("vault_key").encode()
    try:  # one Fernet key, or several (newest first, comma-separated) while rotating
        parts = [part.strip() for part in vault_key.split(b",")]
        if not parts or any(len(base64.urlsafe_b64decode(part)) != 32 for part in parts):
            raise ValueError
    except ValueError as exc:
        raise ConfigError(
            "security.vault_key must be a Fernet key (32 url-safe base64-encoded bytes), "
            "or several separated by commas, newest first"
        ) from exc
    # One key, or several (newest first, comma-separated) while rotating.
    pseudonym_key, *pseudonym_old_keys = pseudonym_keys(security.text("pseudonym_key").encode())
    if any(len(key) < 16 for key in (pseudonym_key, *pseudonym_old_keys)):
        raise ConfigError(
            "security.pseudonym_key must be at least 16 characters (each key, when several are "
            "given newest first, separated by commas)"
        )
    if len({pseudonym_key, *pseudonym_old_keys}) < 1 + len(pseudonym_old_keys):
        raise ConfigError("security.pseudonym_key lists the same key twice")

    tg = TelegramConfig(
        enabled=telegram.flag("enabled", False),
        token=telegram.text("token", ""),
        webhook_secret=telegram.text("webhook_secret", ""),
        api_base_url=telegram.text("api_base_url", "https://api.telegram.org").rstrip("/"),
        per_chat_per_second=telegram.number("per_chat_per_second", 1.0),
    )
    if tg.per_chat_per_second <= 0:
        raise ConfigError("channels.telegram.per_chat_per_second must be more than 0")
    if tg.enabled and not tg.token:
        raise ConfigError(
            "channels.telegram.token is required when the Telegram channel is enabled"
        )

    rasa_config = RasaConfig(
        url=rasa.text("url", "http://127.0.0.1:5005").rstrip("/"),
        manage=rasa.flag("manage", True),
        token=rasa.text("token", ""),
        project_dir=rasa.path("project_dir", "nlu", root),
        model_dir=rasa.path("model_dir", "var/models", root),
        tracker_db=_tracker_db(rasa, root),
        tracker_retention_days=rasa.integer("tracker_retention_days", 8),
        timeout_seconds=rasa.number("timeout_seconds", 10.0),
        max_in_flight=rasa.integer("max_in_flight", 16),
        lock_store=rasa.text("lock_store", ""),
    )
    if rasa_config.max_in_flight < 1:
        raise ConfigError("rasa.max_in_flight must be at least 1")
    if rasa_config.lock_store and not rasa_config.lock_store.startswith("redis://"):
        raise ConfigError(
            f"rasa.lock_store must be empty or redis://HOST:PORT/DB, got {rasa_config.lock_store!r}"
        )
    if rasa_config.manage and len(rasa_config.urls) > 1:
        raise ConfigError(
            "rasa.url names several Rasa workers: the app does not start them (set rasa.manage "
            "to false and run each with `parentvoice rasa run`)"
        )
    log_file = logging_.text("file", "")
    level = logging_.text("level", "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"logging.level must be DEBUG, INFO, WARNING or ERROR, got {level!r}")

    return Config(
        database=DatabaseConfig(
            url=_resolve_sqlite(db.text("url", "sqlite:///var/parentvoice.db"), root)
        ),
        server=ServerConfig(
            host=server.text("host", "127.0.0.1"),
            port=server.integer("port", 8000),
            public_url=server.text("public_url", "http://127.0.0.1:8000").rstrip("/"),
            max_body_bytes=server.integer("max_body_bytes", 262144),
            per_sender_per_minute=server.integer("per_sender_per_minute", 20),
        ),
        rasa=rasa_config,
        flows=FlowsConfig(
            dir=flows.path("dir", "flows", root),
            default=flows.text("default", "hcp_experience"),
            default_language=flows.text("default_language", "en"),
        ),
        channels=ChannelsConfig(
            telegram=tg,
            web=WebConfig(enabled=channels.section("web").flag("enabled", True)),
            twilio=_twilio(channels.section("twilio")),
        ),
        security=SecurityConfig(
            pseudonym_key=pseudonym_key,
            vault_key=vault_key,
            pseudonym_old_keys=tuple(pseudonym_old_keys),
        ),
        outbox=OutboxConfig(
            max_attempts=outbox.integer("max_attempts", 8),
            per_channel_per_second=outbox.number("per_channel_per_second", 25.0),
        ),
        safeguarding=_safeguarding(top.section("safeguarding"), tg.enabled),
        schedule=_schedule(top.section("schedule")),
        retention=_retention(top.section("retention")),
        logging=LoggingConfig(level=level, file=(root / log_file) if log_file else None),
        root=root,
    )


def _safeguarding(section: _Section, telegram_enabled: bool) -> SafeguardingConfig:
    helplines_raw = section.mapping("helplines")
    if not isinstance(helplines_raw, dict):
        raise ConfigError("safeguarding.helplines must map a name to a number")
    unknown = sorted(set(helplines_raw) - set(HELPLINES))
    if unknown:
        raise ConfigError(
            f"safeguarding.helplines: unknown {', '.join(unknown)} (known: {', '.join(HELPLINES)})"
        )
    helplines = {**HELPLINES, **{str(k): str(v).strip() for k, v in helplines_raw.items()}}
    empty = [k for k, v in helplines.items() if not v]
    if empty:
        raise ConfigError(f"safeguarding.helplines: {', '.join(empty)} must not be empty")
    config = SafeguardingConfig(
        classifier=section.flag("classifier", True),
        helplines=helplines,
        staff_telegram_chat_id=section.text("staff_telegram_chat_id", "").strip(),
        staff_webhook_url=section.text("staff_webhook_url", "").strip(),
        staff_webhook_secret=section.text("staff_webhook_secret", ""),
    )
    if config.staff_telegram_chat_id and not telegram_enabled:
        raise ConfigError(
            "safeguarding.staff_telegram_chat_id needs the Telegram channel enabled (its bot sends it)"
        )
    if config.staff_webhook_url and not config.staff_webhook_url.startswith(
        ("https://", "http://127.0.0.1", "http://localhost")
    ):
        raise ConfigError("safeguarding.staff_webhook_url must be an https:// address")
    return config


def _schedule(section: _Section) -> ScheduleConfig:
    try:
        quiet = QuietHours.parse(
            section.text("quiet_hours", "21:00-08:00"), section.text("timezone", "Europe/London")
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    hours = section.number("reminder_after_hours", 20.0)
    if hours < 0:
        raise ConfigError("schedule.reminder_after_hours must be 0 (no reminders) or more")
    poll = section.number("poll_seconds", 30.0)
    if poll <= 0:
        raise ConfigError("schedule.poll_seconds must be above 0")
    return ScheduleConfig(
        quiet=quiet,
        reminder_after=timedelta(hours=hours) if hours else None,
        poll_seconds=poll,
    )


def _retention(section: _Section) -> RetentionConfig:
    config = RetentionConfig(
        transcript_days=section.integer("transcript_days", 730),
        idle_days=section.integer("idle_days", 7),
        followup_days=section.integer("followup_days", 365),
    )
    for key, value in vars(config).items():
        if value < 0:
            raise ConfigError(f"retention.{key} must be 0 or more, got {value}")
    if config.idle_days < 1 or config.followup_days < config.idle_days:
        raise ConfigError("retention: idle_days must be at least 1 and followup_days at least that")
    return config


def _twilio(section: _Section) -> TwilioConfig:
    templates_raw = section.mapping("whatsapp_templates")
    if not isinstance(templates_raw, dict) or not all(
        isinstance(v, dict) and all(isinstance(sid, str) for sid in v.values())
        for v in templates_raw.values()
    ):
        raise ConfigError(
            "channels.twilio.whatsapp_templates must map message kind -> language -> ContentSid"
        )
    config = TwilioConfig(
        enabled=section.flag("enabled", False),
        account_sid=section.text("account_sid", ""),
        auth_token=section.text("auth_token", ""),
        messaging_service_sid=section.text("messaging_service_sid", ""),
        sms_from=section.text("sms_from", ""),
        whatsapp_from=section.text("whatsapp_from", ""),
        api_base_url=section.text("api_base_url", "https://api.twilio.com").rstrip("/"),
        per_second=section.number("per_second", 1.0),
        whatsapp_templates={
            str(k): {str(lang): str(sid) for lang, sid in v.items()}
            for k, v in templates_raw.items()
        },
    )
    if config.enabled:
        if not (config.account_sid and config.auth_token):
            raise ConfigError(
                "channels.twilio.account_sid and auth_token are required when Twilio is enabled"
            )
        if not (config.messaging_service_sid or config.sms_from or config.whatsapp_from):
            raise ConfigError(
                "channels.twilio needs messaging_service_sid, or sms_from and/or whatsapp_from, to send from"
            )
    if config.per_second <= 0:
        raise ConfigError("channels.twilio.per_second must be above 0")
    return config


def _resolve_sqlite(url: str, root: Path) -> str:
    """Make a relative SQLite path relative to the config's directory, not the working directory."""
    for prefix in ("sqlite:///", "sqlite+aiosqlite:///"):
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(root / url[len(prefix) :])
    return url
