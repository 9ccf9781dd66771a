"""Throw-away databases for storage tests: migrated and empty, SQLite or a fresh PostgreSQL one;
and a whole PostgreSQL cluster of a test's own, for tests that stop and start the server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg

from storage.db import migrate
from tests.harness import free_port

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def create_pg_database(prefix: str = "test") -> str:
    """A new, empty database on the shared PostgreSQL (127.0.0.1:5432); its name."""
    name = f"pv_{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    """Drop a database made by ``create_pg_database``, closing any connection still open."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def migrated_database(kind: str, tmp_path: Path, name: str) -> AsyncIterator[str]:
    """A migrated, empty database of ``kind`` ("sqlite" or "postgresql"); a PostgreSQL one is
    created for the test and dropped after it. ``name`` prefixes the file or database name."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        await asyncio.to_thread(migrate, url)
        yield url
        return
    database = create_pg_database(name)
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
        await asyncio.to_thread(migrate, url)
        yield url
    finally:
        drop_pg_database(database)


class ThrowAwayCluster:
    """A PostgreSQL server of one test's own, which it may stop and start at will (the shared
    one on 5432 serves the other tests). Trust authentication, TCP on 127.0.0.1 only, its Unix
    socket and log in its own directory; fsync is off, as a restart, not a power cut, is tested."""

    def __init__(self, base: Path, bin_dir: Path, port: int) -> None:
        self.base, self.bin_dir, self.port = base, bin_dir, port
        self.data = base / "data"
        self.log = base / "server.log"

    def url(self, database: str) -> str:
        """The app's URL for ``database`` on this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    async def create_database(self, name: str) -> str:
        """Create ``name`` (empty, not migrated) and return its URL."""

        def create() -> None:
            admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')

        await asyncio.to_thread(create)
        return self.url(name)

    async def start(self) -> None:
        """Start the server (on the same port every time) and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        await asyncio.to_thread(
            self._run, "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
            "-l", str(self.log), "-o", options,
        )  # fmt: skip

    async def stop(self, mode: str = "fast") -> None:
        """Stop the server: "fast" (sessions cut, clean shutdown) or "immediate" (as a crash)."""
        await asyncio.to_thread(
            self._run, "pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data)
        )

    def running(self) -> bool:
        """True while the postmaster's pid file exists (it is removed on a clean stop)."""
        return (self.data / "postmaster.pid").exists()

    def _run(self, program: str, *args: str) -> None:
        # PostgreSQL refuses to run as root: as root, run it as the postgres user.
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*as_user, str(self.bin_dir / program), *args],
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} {args[0]} failed: {done.stderr.strip()}\n{log}")


def _postgres_bin() -> Path:
    """The newest installed PostgreSQL's programs (Debian's layout)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise RuntimeError("no PostgreSQL server programs under /usr/lib/postgresql/*/bin")
    return found[-1].parent


@contextlib.asynccontextmanager
async def throwaway_cluster() -> AsyncIterator[ThrowAwayCluster]:
    """A fresh PostgreSQL cluster, started; stopped and its directory removed afterwards, even
    if the test fails or left it stopped."""
    base = Path(tempfile.mkdtemp(prefix="pv-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
        cluster = ThrowAwayCluster(base, _postgres_bin(), free_port())
        await asyncio.to_thread(
            cluster._run, "initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        await cluster.start()
        try:
            yield cluster
        finally:
            if cluster.running():
                try:
                    await cluster.stop("immediate")
                except (RuntimeError, subprocess.TimeoutExpired):
                    _kill_postmaster(cluster.data)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _kill_postmaster(data: Path) -> None:
    """Last resort when pg_ctl could not stop our server: SIGKILL its postmaster, by pid."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
