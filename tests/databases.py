"""Throw-away databases for storage tests: migrated and empty, SQLite or a fresh PostgreSQL one."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg

from storage.db import migrate

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@contextlib.asynccontextmanager
async def migrated_database(kind: str, tmp_path: Path, name: str) -> AsyncIterator[str]:
    """A migrated, empty database of ``kind`` ("sqlite" or "postgresql"); a PostgreSQL one is
    created for the test and dropped after it. ``name`` prefixes the file or database name."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        await asyncio.to_thread(migrate, url)
        yield url
        return
    database = f"pv_{name}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
        await asyncio.to_thread(migrate, url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
