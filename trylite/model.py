"""The declarative base of trylite models.

Models are SQLAlchemy 2.0 typed declarative classes with a Tryton-style name in ``__model__``::

    class Work(Model):
        __model__ = 'timesheet.work'
        __tablename__ = 'timesheet_work'

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

    Pool.register(Work, module='timesheet')

Every trylite database has the tables of every registered model (``trylite db create`` makes
them, ``trylite db update`` adds those of newly registered models). ``datetime`` columns are
:class:`~trylite.storage.types.UTCDateTime`: aware UTC in, aware UTC out.
"""

from __future__ import annotations

import datetime
from typing import ClassVar

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .storage.types import UTCDateTime, utcnow

__all__ = ['Model', 'UTCDateTime', 'utcnow']


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
