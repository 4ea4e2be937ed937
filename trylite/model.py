"""The declarative base of trylite models, with the generic record methods of the data layer.

Models are SQLAlchemy 2.0 typed declarative classes with a Tryton-style name in ``__model__``::

    class Work(Model):
        __model__ = 'timesheet.work'
        __tablename__ = 'timesheet_work'

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

    Pool.register(Work, module='timesheet')

Every trylite database has the tables of every registered model (``trylite db create`` makes
them, ``trylite db update`` adds those of newly registered models). ``datetime`` columns are
:class:`~trylite.storage.types.UTCDateTime`: aware UTC in, aware UTC out. Every model also
gets ``create_uid``, ``create_date``, ``write_uid`` and ``write_date``.

Models with an integer ``id`` answer the generic record methods — ``Work.search([('name',
'ilike', 'dev')])``, ``read``, ``search_read``, ``create``, ``write``, ``unlink``,
``fields_get``, ``name_search`` — in the current transaction, under its person's access
rights (see :mod:`trylite.data.records`); a subclass may override them, and marks its own
methods callable from outside with :func:`rpc`.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from . import pool
from .data import records
from .data.env import current_env
from .data.rpc import rpc
from .storage.types import UTCDateTime, utcnow
from .transaction import Transaction

__all__ = ['Model', 'UTCDateTime', 'rpc', 'utcnow']


def _current_user() -> int | None:
    """The user of the current transaction (``None`` for the system or outside one)."""
    transaction = Transaction.active()
    return transaction.user or None if transaction is not None else None


_AUDIT_INFO = {'readonly': True}
_AUDIT_PERSON = {'readonly': True, 'relation': 'res.user'}


class Model(DeclarativeBase):
    """Base class of models; set ``__model__`` to the name :meth:`Pool.get` knows it by."""

    __abstract__ = True
    __model__: ClassVar[str]
    metadata = pool.metadata
    type_annotation_map = {datetime.datetime: UTCDateTime}

    # The audit columns name persons without a foreign key: a person is never deleted, and
    # code may run as a user id of its own choosing.
    @declared_attr
    def create_uid(cls) -> Mapped[int | None]:
        return mapped_column(default=_current_user,
                             info={**_AUDIT_PERSON, 'string': 'Created by'})

    @declared_attr
    def create_date(cls) -> Mapped[datetime.datetime | None]:
        return mapped_column(default=utcnow, info={**_AUDIT_INFO, 'string': 'Created on'})

    @declared_attr
    def write_uid(cls) -> Mapped[int | None]:
        return mapped_column(default=_current_user, onupdate=_current_user,
                             info={**_AUDIT_PERSON, 'string': 'Last updated by'})

    @declared_attr
    def write_date(cls) -> Mapped[datetime.datetime | None]:
        return mapped_column(default=utcnow, onupdate=utcnow,
                             info={**_AUDIT_INFO, 'string': 'Last updated on'})

    # -- the generic record methods -----------------------------------------------------------
    @classmethod
    def search(cls, domain: Any = (), offset: int = 0, limit: int | None = None,
               order: str | None = None, count: bool = False) -> list[int] | int:
        """Ids of the records matching *domain* (Odoo's ``search``)."""
        return records.search(current_env(), cls.__model__, domain, offset, limit, order,
                              count)

    @classmethod
    def search_count(cls, domain: Any = (), limit: int | None = None) -> int:
        """How many records match *domain*."""
        return records.search_count(current_env(), cls.__model__, domain, limit)

    @classmethod
    def read(cls, ids: Any, fields: Any = None, load: str = '_classic_read'
             ) -> list[dict[str, Any]]:
        """Values of *fields* of the records *ids* (``load`` is accepted and ignored)."""
        return records.read(current_env(), cls.__model__, ids, fields)

    @classmethod
    def search_read(cls, domain: Any = (), fields: Any = None, offset: int = 0,
                    limit: int | None = None, order: str | None = None
                    ) -> list[dict[str, Any]]:
        """``read`` of ``search``."""
        return records.search_read(current_env(), cls.__model__, domain, fields, offset,
                                   limit, order)

    @classmethod
    def create(cls, vals_list: Any) -> list[int]:
        """Create records from a dict of values or a list of them; their ids."""
        return records.create(current_env(), cls.__model__, vals_list)

    @classmethod
    def write(cls, ids: Any, vals: Any) -> bool:
        """Change the records *ids*."""
        return records.write(current_env(), cls.__model__, ids, vals)

    @classmethod
    def unlink(cls, ids: Any) -> bool:
        """Delete the records *ids*."""
        return records.unlink(current_env(), cls.__model__, ids)

    @classmethod
    def delete(cls, ids: Any) -> bool:
        """Delete the records *ids* (``unlink``)."""
        return cls.unlink(ids)

    @classmethod
    def fields_get(cls, allfields: Any = None, attributes: Any = None
                   ) -> dict[str, dict[str, Any]]:
        """The fields, described as Odoo does."""
        return records.fields_get(current_env(), cls.__model__, allfields, attributes)

    @classmethod
    def check_access_rights(cls, operation: str, raise_exception: bool = True) -> bool:
        """Whether the current person may *operation* records of this model."""
        return records.check_access_rights(current_env(), cls.__model__, operation,
                                           raise_exception)

    @classmethod
    def default_get(cls, fields_list: Any = None) -> dict[str, Any]:
        """The constant defaults of *fields_list*."""
        return records.default_get(current_env(), cls.__model__, fields_list)

    @classmethod
    def name_search(cls, name: str = '', domain: Any = None, operator: str = 'ilike',
                    limit: int | None = 100) -> list[list[Any]]:
        """``[[id, display_name], ...]`` of the records whose name matches."""
        return records.name_search(current_env(), cls.__model__, name, domain, operator,
                                   limit)
