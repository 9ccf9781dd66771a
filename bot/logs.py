"""Logging policy: our log lines carry event kinds and pseudonym prefixes, never message text or
addresses. Third-party libraries are held at WARNING because at DEBUG/INFO they log exactly what we
must not keep: python-telegram-bot logs request parameters (chat ids, texts) and httpx logs every
URL (Telegram's contain the bot token)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

# sqlalchemy and aiosqlite log statements with their parameters (message text) at INFO/DEBUG.
CHATTY_LIBRARIES = (
    "httpx", "httpcore", "telegram", "apscheduler", "uvicorn.access", "hpack", "sqlalchemy", "aiosqlite",
    "twilio", "aiohttp",  # twilio logs request URLs and headers at INFO
)  # fmt: skip


def quiet_third_party() -> None:
    """Hold libraries that log personal data at WARNING, whatever the root level is."""
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure(level: str, file: Path | None) -> None:
    """Log to stderr and, if given, to ``file``; apply the third-party policy."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(file, encoding="utf-8"))
    logging.basicConfig(
        level=level, handlers=handlers, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    quiet_third_party()
