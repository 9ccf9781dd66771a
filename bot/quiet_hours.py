"""Quiet hours: a daily local-time window when ParentVoice sends nothing a parent did not ask for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class QuietHours:
    """A daily window, in local time, when no one is sent anything unasked (reminders, outcomes).

    ``start`` and ``end`` are ``None`` when quiet hours are off. A window may cross midnight
    ("21:00-08:00"). Replies to a parent who has just written are never held back by it.
    """

    zone: ZoneInfo
    start: time | None = None
    end: time | None = None

    @classmethod
    def parse(cls, text: str, zone_name: str) -> QuietHours:
        """From config: ``"21:00-08:00"`` (or ``""`` for none) and an IANA zone name."""
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"schedule.timezone: unknown time zone {zone_name!r} (e.g. Europe/London)"
            ) from exc
        text = text.strip()
        if not text:
            return cls(zone)
        parts = text.split("-")
        if len(parts) != 2:
            raise ValueError(f"schedule.quiet_hours must look like 21:00-08:00, got {text!r}")
        start, end = (_clock_time(part) for part in parts)
        if start == end:
            raise ValueError(
                "schedule.quiet_hours: start and end are the same; use an empty string for none"
            )
        return cls(zone, start, end)

    def contains(self, moment: datetime) -> bool:
        """True if ``moment`` (any time zone) falls inside quiet hours."""
        if self.start is None or self.end is None:
            return False
        local = moment.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, moment: datetime) -> datetime:
        """``moment`` itself if sending is allowed then, else the end of this quiet spell (UTC)."""
        if not self.contains(moment) or self.end is None:
            return moment.astimezone(UTC)
        local = moment.astimezone(self.zone)
        end = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.zone)
        return end.astimezone(UTC)

    def describe(self) -> str:
        if self.start is None or self.end is None:
            return "none"
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.zone.key}"


def _clock_time(text: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(
            f"schedule.quiet_hours: {text.strip()!r} is not a time like 08:00"
        ) from exc
