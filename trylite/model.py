"""The declarative base of trylite models.

Models are SQLAlchemy 2.0 typed declarative classes with a Tryton-style name in ``__model__``::

    class Work(Model):
        __model__ = 'timesheet.work'
        __tablename__ = 'timesheet_work'

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

    Pool.register(Work, module='timesheet')

Every trylite database has the tables of every registered model (``trylite db create`` makes
them, ``trylite db update`` adds those of newly registered models).
"""

from __future__ import annotations

import datetime
from typing import ClassVar

from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime.datetime]):
    """A timestamp stored as naive UTC and read back as an aware UTC ``datetime``.

    Both SQLite and PostgreSQL then compare and sort timestamps the same way.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None:
            if value.tzinfo is None:
                raise ValueError('UTCDateTime needs an aware datetime')
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None:
            value = value.replace(tzinfo=datetime.UTC)
        return value


def utcnow() -> datetime.datetime:
    """The current time, aware, in UTC."""
    return datetime.datetime.now(datetime.UTC)


class Model(DeclarativeBase):
    """Base class of models; set ``__model__`` to the name :meth:`Pool.get` knows it by."""

    __abstract__ = True
    __model__: ClassVar[str]
    metadata = MetaData(naming_convention={
        'ix': 'ix_%(column_0_label)s',
        'uq': 'uq_%(table_name)s_%(column_0_name)s',
        'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s',
        'pk': 'pk_%(table_name)s',
    })
    type_annotation_map = {datetime.datetime: UTCDateTime}
