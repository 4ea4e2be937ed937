"""A model registered only when this module is loaded (``trylite db update -m tests.extra_model``).

Never imported by the suite itself, so the shared test databases do not need its table.
"""

from __future__ import annotations

from sqlalchemy.orm import Mapped, mapped_column

from trylite.model import Model
from trylite.pool import Pool


class Note(Model):
    __model__ = 'test.note'
    __tablename__ = 'test_note'

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str]


Pool.register(Note, module='tests.extra_model')
