"""Local days and hours of a tenant's time zone, for epoch-second timestamps (pure)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):  # an unknown zone name must not break reports
        return ZoneInfo("UTC")


def local_day(at: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(at, tz).date()


def day_start(day: date, tz: ZoneInfo) -> float:
    """The epoch second at which the local day begins (local midnight exists in every zone we know of;
    where it does not, the first instant of the day)."""
    return datetime.combine(day, time(0), tzinfo=tz).timestamp()


def day_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[float, float]:
    """[start of `first`, start of the day after `last`) in epoch seconds."""
    return day_start(first, tz), day_start(last + timedelta(days=1), tz)


def split_by_day(start: float, end: float, tz: ZoneInfo) -> Iterator[tuple[date, float]]:
    """Yields (local day, seconds) for the interval [start, end), cut at local midnights."""
    if end <= start:
        return
    day = local_day(start, tz)
    cursor = start
    while cursor < end:
        boundary = day_start(day + timedelta(days=1), tz)
        piece_end = min(end, boundary)
        if piece_end > cursor:
            yield day, piece_end - cursor
        cursor = piece_end
        day = day + timedelta(days=1)


def hour_start(at: float, tz: ZoneInfo) -> float:
    """The epoch second at which the local hour holding `at` began (DST folds kept apart)."""
    local = datetime.fromtimestamp(at, tz)
    return local.replace(minute=0, second=0, microsecond=0).timestamp()


def hour_label(at: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M %Z")
