"""The durable timer that sends outcomes when they fall due.

Outcomes are timed by APScheduler 3 with its SQLAlchemy job store in the app's own database
(table ``apscheduler_jobs``), so a scheduled send survives restarts. The job store is only a
timer: what to send, and whether it was sent, lives in ``outcomes`` (``bot.outcomes``), and a job
that fires twice finds the outcome already enqueued and does nothing. The app is the only
process that touches the job store: the CLI writes an outcome row, and ``Scheduler.reconcile``
(at start, then every ``poll_seconds``) gives every scheduled outcome its job and removes jobs
of cancelled ones.

APScheduler runs in its own thread (``BackgroundScheduler``): the job store's database work then
never blocks the app's event loop, and a fired job hands the outcome to the app's loop.

Tests move time with an injected clock. APScheduler 3 reads the time with ``datetime.now`` in
``apscheduler.schedulers.base``; that name is pointed at a ``datetime`` whose ``now`` asks the
clock of the scheduler whose thread is running a job pass, and is the real ``now`` everywhere
else (``_ClockedScheduler``). Production passes the real clock, so nothing changes there. The
exact pin of APScheduler (pyproject) and ``tests/test_outcomes.py`` keep this honest.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import apscheduler.schedulers.base as aps_base
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from bot.quiet_hours import QuietHours
from storage.db import sync_url

__all__ = ["QuietHours", "Scheduler", "run_outcome_job"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
JOB_TABLE = "apscheduler_jobs"


# -- the durable timer -----------------------------------------------------------------------

# What a fired job runs, per job store (one per database): the app's coroutine and its event loop.
# A job names its store by a digest of the database URL, never the URL itself (it may hold a
# password, and jobs are stored pickled).
Runner = Callable[[int], Coroutine[Any, Any, None]]
_RUNNERS: dict[str, tuple[asyncio.AbstractEventLoop, Runner]] = {}
JOB_TIMEOUT = 300.0  # seconds a fired job may take to enqueue an outcome


def run_outcome_job(store_key: str, outcome_id: int) -> None:
    """APScheduler's entry point for a due outcome (referenced by name in the stored job). Runs
    in APScheduler's worker thread and waits for the app's coroutine on the app's event loop."""
    found = _RUNNERS.get(store_key)
    if found is None:  # this process's scheduler stopped meanwhile; reconcile will re-add it
        log.warning("outcome %s fell due with no scheduler running here", outcome_id)
        return
    loop, runner = found
    try:
        asyncio.run_coroutine_threadsafe(runner(outcome_id), loop).result(JOB_TIMEOUT)
    except Exception as exc:  # the outcome stays scheduled; reconcile gives it a new job
        log.error("outcome %s could not be enqueued: %s", outcome_id, type(exc).__name__)


_thread_clock = threading.local()


class _ClockedDatetime(datetime):
    """``datetime`` whose ``now`` reads the clock of the scheduler whose thread asks, if any."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        clock: Clock | None = getattr(_thread_clock, "clock", None)
        if clock is None:
            return datetime.now(tz)
        moment = clock()
        return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)


class _ClockedScheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler's thread-based scheduler whose job passes see ``clock`` as the time (see the
    module docstring). Its own thread does the job store's database work, so a slow or locked
    database never stalls the app's event loop."""

    def __init__(self, clock: Clock, **options: Any) -> None:
        super().__init__(**options)
        self._pv_clock = clock
        aps_base.datetime = _ClockedDatetime  # idempotent; plain ``now`` outside job passes

    def _process_jobs(self) -> float | None:
        _thread_clock.clock = self._pv_clock
        try:
            result: float | None = super()._process_jobs()
        finally:
            _thread_clock.clock = None
        return result


def job_store_engine(database_url: str) -> Engine:
    """A small synchronous engine for APScheduler's job store on the app's database."""
    url = sync_url(database_url)
    engine = create_engine(url, pool_pre_ping=make_url(url).get_backend_name() != "sqlite")
    if make_url(url).get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_wait)
    return engine


def _sqlite_wait(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")  # the app writes to the same file
    cursor.close()


class Scheduler:
    """The app's timer for outcomes: one APScheduler job per scheduled outcome.

    Every method but ``start`` and ``wakeup`` reads or writes the job store: call them off the
    event loop (``asyncio.to_thread``)."""

    def __init__(self, database_url: str, clock: Clock, runner: Runner) -> None:
        self._engine = job_store_engine(database_url)
        self._key = hashlib.sha256(sync_url(database_url).encode()).hexdigest()[:16]
        self._runner = runner
        self._aps = _ClockedScheduler(
            clock,
            jobstores={"default": SQLAlchemyJobStore(engine=self._engine, tablename=JOB_TABLE)},
            # Late is better than never (the app was down at the time): run once, however late.
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
        )

    def start(self) -> None:
        """Start the timer thread; due jobs run the runner on the calling event loop."""
        _RUNNERS[self._key] = (asyncio.get_running_loop(), self._runner)
        self._aps.start()

    def shutdown(self) -> None:
        if self._aps.running:
            self._aps.shutdown(wait=False)
        _RUNNERS.pop(self._key, None)
        self._engine.dispose()

    @staticmethod
    def job_id(outcome_id: int) -> str:
        return f"outcome-{outcome_id}"

    def set_outcome(self, outcome_id: int, due_at: datetime) -> None:
        """Fire for ``outcome_id`` at ``due_at`` (replacing any earlier time)."""
        self._aps.add_job(
            "bot.schedule:run_outcome_job",
            trigger="date",
            run_date=due_at.astimezone(UTC),
            args=(self._key, outcome_id),
            id=self.job_id(outcome_id),
            replace_existing=True,
        )

    def drop_outcome(self, outcome_id: int) -> None:
        with contextlib.suppress(JobLookupError):
            self._aps.remove_job(self.job_id(outcome_id))

    def jobs(self) -> dict[str, datetime | None]:
        """Job id → next run time, for every stored job."""
        return {job.id: job.next_run_time for job in self._aps.get_jobs()}

    def reconcile(self, scheduled: dict[int, datetime]) -> None:
        """Make the stored jobs match the outcomes still to send (``{outcome id: due at}``):
        add missing jobs, move jobs whose time changed, remove jobs of the others."""
        stored = self.jobs()
        for outcome_id, due_at in scheduled.items():
            at = stored.get(self.job_id(outcome_id))
            if at is None or abs((at - due_at).total_seconds()) >= 1:
                self.set_outcome(outcome_id, due_at)
        wanted = {self.job_id(i) for i in scheduled}
        for job_id in stored:
            if job_id.startswith("outcome-") and job_id not in wanted:
                self._aps.remove_job(job_id)

    def wakeup(self) -> None:
        """Look for due jobs now (after reconcile, or when a test moved the clock)."""
        self._aps.wakeup()
