"""Per-sender flood control: one sender writing far faster than a person can type is slowed down,
and nobody else notices.

A token bucket per sender (their pseudonym): it holds ``per_minute // 2`` messages (at least
one) and refills at ``per_minute`` a minute. A message that finds the bucket empty is dropped
before anything is stored or sent to Rasa, unless safeguarding sees danger in it: a disclosure is
never dropped. Buckets live in this process's memory; with several app processes each counts on
its own, so the limit a sender meets is per process (DEPLOYMENT.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_SENDERS = 100_000  # beyond this many tracked senders, full (idle) buckets are forgotten


@dataclass
class _Bucket:
    tokens: float
    at: float


class FloodControl:
    """``allow(who)`` is True while ``who`` keeps within the rate; 0 per minute turns it off."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.capacity = max(1.0, per_minute // 2)
        self._rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self.dropped = 0

    def allow(self, who: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = self._clock()
        bucket = self._buckets.get(who)
        if bucket is None:
            if len(self._buckets) >= MAX_SENDERS:
                self._forget_idle(now)
            bucket = self._buckets[who] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        self.dropped += 1
        return False

    def _forget_idle(self, now: float) -> None:
        """Drop the buckets that have refilled: forgetting them changes nothing."""
        full = [
            who
            for who, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.at) * self._rate >= self.capacity
        ]
        for who in full:
            del self._buckets[who]
