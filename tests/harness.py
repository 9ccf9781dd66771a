"""Running the real app for tests: uvicorn in the test's event loop, a config built from parts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bot.config import Config, load_config
from bot.rasa import RasaClient
from bot.server import create_app
from tests.fakes.twilio_api import ACCOUNT_SID as TWILIO_ACCOUNT_SID
from tests.fakes.twilio_api import AUTH_TOKEN as TWILIO_AUTH_TOKEN

ROOT = Path(__file__).resolve().parent.parent
TWILIO_SMS_FROM = "+447700900001"
TWILIO_WHATSAPP_FROM = "+447700900002"
# WhatsApp messages outside the 24-hour window go out as this (synthetic) approved template.
WHATSAPP_TEMPLATE_SID = "HX" + "0123456789abcdef" * 2


async def wait_healthy(url: str, up: tuple[int, ...] = (200,), seconds: float = 60.0) -> None:
    """Until the app at ``url`` answers /healthz with one of ``up`` (503 counts where Rasa is not
    needed: the app is serving, only Rasa is not ok)."""
    async with httpx.AsyncClient(timeout=2) as probe:
        for _ in range(int(seconds * 10)):
            try:
                if (await probe.get(f"{url}/healthz")).status_code in up:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the app at {url} did not become healthy")


@contextlib.asynccontextmanager
async def rasa_unreachable(app: RunningApp) -> AsyncIterator[None]:
    """Rasa stopped, as the running app sees it: nothing listens on its port, so every call is
    refused. Rasa is back when the block ends."""
    pipeline = app.runtime.pipeline
    real, dead = pipeline._rasa, RasaClient(f"http://127.0.0.1:{free_port()}", "x", timeout=1)
    pipeline._rasa = dead
    try:
        yield
    finally:
        pipeline._rasa = real
        await dead.aclose()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Clock:
    """Time that flows like the real thing from a chosen start, and jumps when a test says so
    (``advance(hours=24)``) instead of waiting. Retries and back-offs still come due."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 3, 10, 2, 14, tzinfo=UTC)  # a Tuesday, 2 am
        self._began = time.monotonic()
        self._jumped = timedelta()

    def __call__(self) -> datetime:
        return self._start + self._jumped + timedelta(seconds=time.monotonic() - self._began)

    def advance(self, **delta: float) -> None:
        """Jump forward, e.g. ``advance(hours=24)``."""
        self._jumped += timedelta(**delta)


STAFF_CHAT_ID = -1009000  # the safeguarding lead's Telegram group, in tests


def make_config(
    tmp: Path,
    *,
    db_url: str,
    port: int,
    rasa_url: str,
    rasa_token: str,
    telegram_api: str,
    pseudonym_key: str,
    twilio_api: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Config:
    """A config for one app instance under test (environment overrides, as production does)."""
    env = config_env(
        tmp,
        db_url=db_url,
        port=port,
        rasa_url=rasa_url,
        rasa_token=rasa_token,
        telegram_api=telegram_api,
        pseudonym_key=pseudonym_key,
        twilio_api=twilio_api,
        extra_env=extra_env,
    )
    config = load_config(ROOT / "config.yaml", environ=env)
    return replace(config, root=ROOT)


def config_env(
    tmp: Path,
    *,
    db_url: str,
    port: int,
    rasa_url: str,
    rasa_token: str,
    telegram_api: str,
    pseudonym_key: str,
    twilio_api: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment overrides behind ``make_config`` (a CLI run in a subprocess gets the same)."""
    env = {
        "PARENTVOICE__DATABASE__URL": db_url,
        "PARENTVOICE__SERVER__PORT": str(port),
        "PARENTVOICE__SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
        # Test parents answer at machine speed; tests/test_flood.py checks the real limit.
        "PARENTVOICE__SERVER__PER_SENDER_PER_MINUTE": "600",
        "PARENTVOICE__RASA__URL": rasa_url,
        "PARENTVOICE__RASA__TOKEN": rasa_token,
        "PARENTVOICE__RASA__MANAGE": "false",
        "PARENTVOICE__RASA__TRACKER_DB": str(tmp.parent / "rasa-tracker.db"),  # the test Rasa's
        "PARENTVOICE__CHANNELS__TELEGRAM__ENABLED": "true",
        "PARENTVOICE__CHANNELS__TELEGRAM__TOKEN": "123456:TEST-token-synthetic",
        "PARENTVOICE__CHANNELS__TELEGRAM__WEBHOOK_SECRET": "test-webhook-secret",
        "PARENTVOICE__CHANNELS__TELEGRAM__API_BASE_URL": telegram_api,
        "PARENTVOICE__CHANNELS__TELEGRAM__PER_CHAT_PER_SECOND": "50",  # machine-speed parents
        "PARENTVOICE__SECURITY__PSEUDONYM_KEY": pseudonym_key,
        "PARENTVOICE__LOGGING__FILE": str(tmp / f"app-{port}.log"),
        # Safeguarding alerts go to a staff Telegram chat at the fake Bot API.
        "PARENTVOICE__SAFEGUARDING__STAFF_TELEGRAM_CHAT_ID": str(STAFF_CHAT_ID),
    }
    if twilio_api is not None:
        env |= {
            "PARENTVOICE__CHANNELS__TWILIO__ENABLED": "true",
            "PARENTVOICE__CHANNELS__TWILIO__ACCOUNT_SID": TWILIO_ACCOUNT_SID,
            "PARENTVOICE__CHANNELS__TWILIO__AUTH_TOKEN": TWILIO_AUTH_TOKEN,
            "PARENTVOICE__CHANNELS__TWILIO__SMS_FROM": TWILIO_SMS_FROM,
            "PARENTVOICE__CHANNELS__TWILIO__WHATSAPP_FROM": TWILIO_WHATSAPP_FROM,
            "PARENTVOICE__CHANNELS__TWILIO__API_BASE_URL": twilio_api,
            "PARENTVOICE__CHANNELS__TWILIO__PER_SECOND": "200",
            "PARENTVOICE__CHANNELS__TWILIO__WHATSAPP_TEMPLATES": json.dumps(
                {kind: {"en": WHATSAPP_TEMPLATE_SID} for kind in ("reply", "reminder", "outcome")}
            ),
        }
    return env | (extra_env or {})


class RunningApp:
    """The real ASGI app served by uvicorn on 127.0.0.1 inside the current event loop."""

    def __init__(self, config: Config, clock: Clock, telegram_polling: bool = False) -> None:
        self.config, self.clock = config, clock
        self.app = create_app(config, clock=clock, telegram_polling=telegram_polling)
        self.url = f"http://127.0.0.1:{config.server.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=config.server.port,
                log_level="warning",
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=1,
            )
        )
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task: asyncio.Task[Any] | None = None

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(400):
            if self._server.started:
                return
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.025)
        raise RuntimeError("app did not start")

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
