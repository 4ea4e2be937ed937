"""Column types every backend stores the same way."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ['UTCDateTime', 'utcnow']


class UTCDateTime(TypeDecorator[datetime.datetime]):
    """A timestamp stored as naive UTC and read back as an aware UTC ``datetime``.

    SQLite and PostgreSQL then compare and sort timestamps the same way. A naive ``datetime``
    is refused (``ValueError``): its time zone would be a guess.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime.datetime | None, dialect: Dialect
                           ) -> datetime.datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError('UTCDateTime needs an aware datetime')
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime.datetime | None:
        if value is not None:
            value = value.replace(tzinfo=datetime.UTC)
        return value  # type: ignore[no-any-return]


def utcnow() -> datetime.datetime:
    """The current time, aware, in UTC."""
    return datetime.datetime.now(datetime.UTC)
