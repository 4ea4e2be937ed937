"""How trylite writes values for people to read (pages, command-line tables)."""

from __future__ import annotations

import datetime

__all__ = ['when']


def when(value: datetime.datetime | None) -> str:
    """A timestamp as ``2026-11-22 12:50 UTC`` (``—`` when there is none)."""
    if value is None:
        return '—'
    return value.astimezone(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')
