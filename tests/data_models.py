"""Models exercising every field type of the data layer (registered for the whole suite)."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from sqlalchemy import Column, ForeignKey, LargeBinary, Numeric, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trylite.model import Model, rpc
from trylite.pool import Pool, metadata
from trylite.transaction import Transaction

partner_tags = Table(
    'test_partner_tag_rel', metadata,
    Column('partner_id', ForeignKey('test_partner.id', ondelete='CASCADE'), primary_key=True),
    Column('tag_id', ForeignKey('test_tag.id', ondelete='CASCADE'), primary_key=True),
)


class Country(Model):
    """A country."""

    __model__ = 'test.country'
    __tablename__ = 'test_country'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(2), unique=True)


class Tag(Model):
    """A tag."""

    __model__ = 'test.tag'
    __tablename__ = 'test_tag'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Partner(Model):
    """A partner."""

    __model__ = 'test.partner'
    __tablename__ = 'test_partner'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), info={'help': 'Who they are'})
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    age: Mapped[int | None] = mapped_column(default=None)
    score: Mapped[float | None] = mapped_column(default=None)
    balance: Mapped[decimal.Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    birthday: Mapped[datetime.date | None] = mapped_column(default=None)
    seen: Mapped[datetime.datetime | None] = mapped_column(default=None)
    kind: Mapped[str | None] = mapped_column(String(20), default=None, info={
        'type': 'selection', 'selection': [('person', 'Person'), ('company', 'Company')]})
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    country_id: Mapped[int | None] = mapped_column(ForeignKey('test_country.id'), default=None)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey('test_partner.id', ondelete='CASCADE'), default=None)
    secret_note: Mapped[str | None] = mapped_column(String(100), default=None,
                                                    info={'secret': True})
    salary: Mapped[int | None] = mapped_column(default=None, info={'groups': ('hr',)})
    child_ids: Mapped[list[Partner]] = relationship(
        back_populates='parent', info={'string': 'Contacts'}, passive_deletes=True)
    parent: Mapped[Partner | None] = relationship(
        back_populates='child_ids', remote_side=[id])
    tag_ids: Mapped[list[Tag]] = relationship(secondary=partner_tags)

    @classmethod
    @rpc(readonly=True)
    def total_age(cls, ids: list[int]) -> int:
        """The sum of the ages of *ids* (read through the data layer)."""
        return sum(r['age'] or 0 for r in cls.read(ids, ['age']))

    @classmethod
    @rpc(model=True)
    def rename_all(cls, prefix: str) -> int:
        """Prefix every readable partner's name; how many."""
        ids = cls.search([])
        for record in cls.read(ids, ['name']):
            cls.write([record['id']], {'name': prefix + record['name']})
        return len(ids)

    @classmethod
    def not_marked(cls) -> Any:
        return Transaction().user


Pool.register(Country, Tag, Partner, module='tests.data')
