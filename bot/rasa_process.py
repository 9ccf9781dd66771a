"""Training and running the Rasa server from the app: train only when inputs change, start, stop.

Rasa lives in its own virtualenv (.venv-rasa, Python 3.10, rasa==3.6.21) because it pins
SQLAlchemy 1.4, pydantic 1 and sanic 21; the app only ever talks to it over HTTP.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import httpx
from sqlalchemy.engine import make_url

from bot.config import Config
from bot.errors import ConfigError, RasaError
from bot.tracker_store import TrackerDB

log = logging.getLogger(__name__)

# What a trained model depends on. Changing any of these retrains; nothing else does.
MODEL_INPUTS = ("config.yml", "domain.yml", "data", "requirements-rasa.lock")


def rasa_executable(root: Path) -> Path:
    """The ``rasa`` command of the project's Rasa virtualenv (PARENTVOICE_RASA_BIN overrides)."""
    override = os.environ.get("PARENTVOICE_RASA_BIN")
    path = Path(override) if override else root / ".venv-rasa" / "bin" / "rasa"
    if not path.exists():
        raise ConfigError(f"Rasa is not installed at {path}: run `make setup`")
    return path


def model_hash(project_dir: Path) -> str:
    """A content hash of every model input (file names and bytes, in a fixed order)."""
    digest = hashlib.sha256()
    for name in MODEL_INPUTS:
        path = project_dir / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if not file.exists():
                continue
            digest.update(str(file.relative_to(project_dir)).encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_model(project_dir: Path, model_dir: Path, rasa_bin: Path) -> Path:
    """Return the model for the current inputs, training it first if it does not exist yet."""
    name = f"parentvoice-{model_hash(project_dir)}"
    model = model_dir / f"{name}.tar.gz"
    if model.exists():
        log.info("rasa model up to date: %s", model.name)
        return model
    model_dir.mkdir(parents=True, exist_ok=True)
    log.info("training rasa model %s (inputs changed)", model.name)
    result = subprocess.run(
        [
            str(rasa_bin),
            "train",
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--data",
            "data",
            "--out",
            str(model_dir),
            "--fixed-model-name",
            name,
            "--quiet",
        ],
        cwd=project_dir,
        capture_output=True,
        text=True,
        env=_rasa_env(project_dir),
    )
    if result.returncode != 0 or not model.exists():
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise RasaError(f"rasa train failed (exit {result.returncode}):\n{tail}")
    for old in model_dir.glob("parentvoice-*.tar.gz"):
        if old != model:
            old.unlink()
    return model


def _rasa_env(
    project_dir: Path, token: str = "", tracker_db: TrackerDB | None = None, lock_store: str = ""
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARENTVOICE__")}
    if isinstance(tracker_db, str) and make_url(tracker_db).password:
        env["PARENTVOICE_TRACKER_PASSWORD"] = str(make_url(tracker_db).password)
    if lock_store and urlparse(lock_store).password:
        env["PARENTVOICE_LOCK_STORE_PASSWORD"] = str(urlparse(lock_store).password)
    env["PYTHONPATH"] = str(project_dir)  # rasa_ext.channel
    env["SQLALCHEMY_SILENCE_UBER_WARNING"] = "1"
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["RASA_TELEMETRY_ENABLED"] = "false"
    if token:
        env["PARENTVOICE_RASA_TOKEN"] = token
    return env


def write_runtime_files(
    run_dir: Path,
    tracker_db: TrackerDB,
    actions_url: str,
    rest_channel: bool = False,
    lock_store: str = "",
) -> tuple[Path, Path]:
    """endpoints.yml and credentials.yml for one run. The token stays in the environment.
    ``rest_channel`` also opens Rasa's own REST channel (no authentication): benchmarks only.

    Several Rasa workers share a PostgreSQL tracker store (``tracker_db`` a URL) and a Redis lock
    store (``lock_store`` = redis://HOST:PORT/DB), so any worker can carry on any conversation.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Written by `parentvoice serve` for this run.",
        "action_endpoint:",
        f"  url: {actions_url}",
        "  token: ${PARENTVOICE_RASA_TOKEN}",
        "tracker_store:",
        "  type: SQL",
    ]
    if isinstance(tracker_db, Path):
        tracker_db.parent.mkdir(parents=True, exist_ok=True)
        lines += ["  dialect: sqlite", f"  db: {tracker_db}"]
    else:
        url = make_url(tracker_db)
        lines += [
            "  dialect: postgresql",
            f"  url: {url.host or '127.0.0.1'}",
            f"  port: {url.port or 5432}",
            f"  db: {url.database}",
            f"  username: {url.username or ''}",
        ]
        if url.password:  # Rasa reads ${...} from its environment: never written to disk
            lines.append("  password: ${PARENTVOICE_TRACKER_PASSWORD}")
    if lock_store:
        redis = urlparse(lock_store)
        lines += [
            "lock_store:",
            "  type: redis",
            f"  url: {redis.hostname or '127.0.0.1'}",
            f"  port: {redis.port or 6379}",
            f"  db: {int(redis.path.strip('/') or 0)}",
            "  key_prefix: parentvoice",
        ]
        if redis.password:
            lines.append("  password: ${PARENTVOICE_LOCK_STORE_PASSWORD}")
    endpoints = run_dir / "endpoints.yml"
    endpoints.write_text("\n".join(lines) + "\n", encoding="utf-8")
    credentials = run_dir / "credentials.yml"
    credentials.write_text(
        "# Written by `parentvoice serve` for this run.\n"
        "rasa_ext.channel.ParentVoiceInput:\n"
        "  token: ${PARENTVOICE_RASA_TOKEN}\n" + ("rest:\n" if rest_channel else ""),
        encoding="utf-8",
    )
    return endpoints, credentials


def server_for(
    config: Config, *, model: Path, url: str, token: str, actions_url: str, name: str
) -> RasaServer:
    """A Rasa server on ``config``'s project, tracker store and lock store. Its run files go in
    ``name/`` and its log in ``name.log``, beside the tracker store file (var/ by default), or
    beside the models when the trackers are in PostgreSQL."""
    tracker_db = config.rasa.tracker_db
    beside = tracker_db.parent if isinstance(tracker_db, Path) else config.rasa.model_dir.parent
    return RasaServer(
        project_dir=config.rasa.project_dir,
        model=model,
        url=url,
        token=token,
        run_dir=beside / name,
        tracker_db=tracker_db,
        lock_store=config.rasa.lock_store,
        actions_url=actions_url,
        log_file=beside / f"{name}.log",
        rasa_bin=rasa_executable(config.root),
    )


class RasaServer:
    """One ``rasa run`` subprocess bound to 127.0.0.1 with token auth."""

    def __init__(
        self,
        *,
        project_dir: Path,
        model: Path,
        url: str,
        token: str,
        run_dir: Path,
        tracker_db: TrackerDB,
        actions_url: str,
        log_file: Path,
        rasa_bin: Path,
        rest_channel: bool = False,
        lock_store: str = "",
    ) -> None:
        parsed = urlparse(url)
        if parsed.hostname not in ("127.0.0.1", "localhost") or not parsed.port:
            raise ConfigError(
                f"rasa.url must be http://127.0.0.1:PORT when rasa.manage is true, got {url}"
            )
        self.url, self.port = url, parsed.port
        self._args = (
            project_dir,
            model,
            token,
            run_dir,
            tracker_db,
            actions_url,
            log_file,
            rasa_bin,
        )
        self.log_file = log_file
        self._rest_channel = rest_channel
        self._lock_store = lock_store
        self._proc: asyncio.subprocess.Process | None = None
        self._log_handle: object | None = None

    async def start(self) -> None:
        """Start Rasa (returns at once; use ``wait_ready``). Any earlier process is stopped first."""
        await self.stop()
        project_dir, model, token, run_dir, tracker_db, actions_url, log_file, rasa_bin = self._args
        endpoints, credentials = write_runtime_files(
            run_dir, tracker_db, actions_url, self._rest_channel, self._lock_store
        )
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handle = log_file.open("ab")
        self._log_handle = handle
        self._proc = await asyncio.create_subprocess_exec(
            str(rasa_bin),
            "run",
            "--enable-api",
            # One argument with "=": a token that starts with "-" (token_urlsafe makes one in 64)
            # would otherwise be read as an option and Rasa would refuse to start.
            f"--auth-token={token}",
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
            "--model",
            str(model),
            "--endpoints",
            str(endpoints),
            "--credentials",
            str(credentials),
            cwd=project_dir,
            env=_rasa_env(project_dir, token, tracker_db, self._lock_store),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.info("rasa starting on %s (pid %s)", self.url, self._proc.pid)

    async def wait_ready(self, timeout: float = 180.0) -> None:
        """Wait until Rasa answers with a loaded model; raise RasaError if it dies or times out."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while asyncio.get_running_loop().time() < deadline:
                if self._proc is not None and self._proc.returncode is not None:
                    raise RasaError(f"rasa exited with code {self._proc.returncode}; see its log")
                try:
                    resp = await client.get(f"{self.url}/")
                    if resp.status_code == 200:
                        log.info("rasa ready on %s", self.url)
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
        raise RasaError(f"rasa did not become ready within {timeout:.0f} s")

    async def wait_exit(self) -> int | None:
        """Wait until the subprocess ends; its exit code (None if it was never started)."""
        if self._proc is None:
            return None
        return await self._proc.wait()

    @property
    def running(self) -> bool:
        """True while the subprocess lives."""
        return self._proc is not None and self._proc.returncode is None

    async def stop(self) -> None:
        """Stop Rasa: SIGTERM, then SIGKILL after 10 s."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._log_handle is not None:
            self._log_handle.close()  # type: ignore[attr-defined]
            self._log_handle = None
