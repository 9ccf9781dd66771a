"""Shared fixtures. Real Rasa, real SQLite and PostgreSQL, the real app; Telegram is a fake on
127.0.0.1 driven through the real python-telegram-bot. Any other network access fails the test."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.rasa_process import RasaServer, ensure_model, rasa_executable
from bot.vault import Vault
from tests import staff_seed
from tests.databases import create_pg_database, drop_pg_database
from tests.fakes.network import (
    blocked_attempts,
    clear_blocked_attempts,
    install_network_guard,
    uninstall_network_guard,
)
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.harness import ROOT, Clock, RunningApp, free_port, make_config

TELEGRAM_TOKEN = "123456:TEST-token-synthetic"


@pytest.fixture(scope="session", autouse=True)
def network_guard() -> Iterator[None]:
    install_network_guard()
    yield
    uninstall_network_guard()


@pytest.fixture(autouse=True)
def no_network_attempts() -> Iterator[None]:
    """SDKs may swallow the guard's error into a retry; so every test also checks the record."""
    clear_blocked_attempts()
    yield
    assert blocked_attempts() == [], f"test tried to reach the network: {blocked_attempts()}"


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pv")


@pytest.fixture(scope="session")
def rasa_token() -> str:
    # Starts with "-" on purpose: token_urlsafe does so once in 64, and Rasa must still start.
    return "-" + secrets.token_urlsafe(16)


@pytest.fixture(scope="session")
def actions_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
async def telegram_api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(TELEGRAM_TOKEN) as api:
        yield api


@pytest.fixture(scope="session")
async def twilio_api() -> AsyncIterator[FakeTwilioAPI]:
    async with FakeTwilioAPI() as api:
        yield api


@pytest.fixture(scope="session")
async def rasa_server(session_dir: Path, rasa_token: str, actions_port: int) -> AsyncIterator[str]:
    """A real `rasa run` on the trained model; its actions go to the app on ``actions_port``."""
    nlu = ROOT / "nlu"
    rasa_bin = rasa_executable(ROOT)
    model = await asyncio.to_thread(ensure_model, nlu, ROOT / "var" / "models", rasa_bin)
    url = f"http://127.0.0.1:{free_port()}"
    server = RasaServer(
        project_dir=nlu,
        model=model,
        url=url,
        token=rasa_token,
        run_dir=session_dir / "rasa",
        tracker_db=session_dir / "rasa-tracker.db",
        actions_url=f"http://127.0.0.1:{actions_port}/rasa/actions/webhook",
        log_file=session_dir / "rasa.log",
        rasa_bin=rasa_bin,
    )
    await server.start()
    try:
        await server.wait_ready()
        yield url
    finally:
        await server.stop()


@pytest.fixture(scope="session")
async def actions_host(
    session_dir: Path,
    rasa_server: str,
    rasa_token: str,
    actions_port: int,
    telegram_api: FakeTelegramAPI,
) -> AsyncIterator[RunningApp]:
    """An app instance that serves Rasa's action calls for the whole session. The actions are pure
    functions of the tracker, so it does not matter which instance answers them."""
    tmp = session_dir / "actions"
    tmp.mkdir(exist_ok=True)
    config = make_config(
        tmp,
        db_url=f"sqlite:///{tmp / 'unused.db'}",
        port=actions_port,
        rasa_url=rasa_server,
        rasa_token=rasa_token,
        telegram_api=telegram_api.base_url,
        pseudonym_key="test-pseudonym-key-actions-0123456789",
    )
    running = RunningApp(config, Clock())
    await running.start()
    yield running
    await running.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def app(
    request: pytest.FixtureRequest,
    twilio_api: FakeTwilioAPI,
    session_dir: Path,
    rasa_server: str,
    rasa_token: str,
    actions_host: RunningApp,
    telegram_api: FakeTelegramAPI,
) -> AsyncIterator[RunningApp]:
    """The real app on one database backend, answering through the real Rasa."""
    backend = request.param
    tmp = session_dir / backend
    tmp.mkdir(exist_ok=True)
    pg_name = None
    port = free_port()
    if backend == "sqlite":
        db_url = f"sqlite:///{tmp / 'parentvoice.db'}"
    else:
        pg_name = create_pg_database()
        db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
    config = make_config(
        tmp,
        db_url=db_url,
        port=port,
        rasa_url=rasa_server,
        rasa_token=rasa_token,
        telegram_api=telegram_api.base_url,
        pseudonym_key=f"test-pseudonym-key-{backend}-0123456789",
        twilio_api=twilio_api.base_url,
    )
    running = RunningApp(config, Clock())
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        if pg_name:
            await asyncio.to_thread(drop_pg_database, pg_name)


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
async def staff_app(tmp_path: Path, telegram_api: FakeTelegramAPI) -> AsyncIterator[RunningApp]:
    """An app with synthetic conversations, alerts and one staff account per role
    (tests/staff_seed.py), on its own SQLite database."""
    app = RunningApp(staff_seed.staff_app_config(tmp_path, telegram_api), Clock(staff_seed.NOW))
    await app.start()
    app.seeded = await staff_seed.seed(
        app.runtime.pipeline._sessions, staff_seed.NOW, Vault(app.config.security.vault_key)
    )  # type: ignore[attr-defined]
    try:
        yield app
    finally:
        await app.stop()
