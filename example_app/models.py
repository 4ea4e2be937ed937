"""The timesheet's models: works to book time on, and the lines persons book on them.

``timesheet.work`` is maintained by whoever runs the timesheet (``trylite demo`` creates a few);
a work is never deleted, only deactivated, so old lines keep their work. ``timesheet.line``
belongs to one person (``user``); the routes only ever show or change the caller's own lines.
"""

from __future__ import annotations

import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from trylite.model import Model
from trylite.pool import Pool

#: Longest work name and line description, in characters.
NAME_LENGTH = 100
DESCRIPTION_LENGTH = 500
#: Longest line, in minutes: one day.
MAX_DURATION = 24 * 60


class Work(Model):
    """Something to book time on: a project, a task, a customer."""

    __model__ = 'timesheet.work'
    __tablename__ = 'timesheet_work'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    active: Mapped[bool] = mapped_column(default=True)


class Line(Model):
    """Time one person spent on one work on one day: ``duration`` minutes."""

    __model__ = 'timesheet.line'
    __tablename__ = 'timesheet_line'
    __table_args__ = (
        Index('ix_timesheet_line_user_date', 'user', 'date'),
        CheckConstraint(f'duration > 0 AND duration <= {MAX_DURATION}',
                        name='ck_timesheet_line_duration'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user: Mapped[int] = mapped_column(ForeignKey('res_user.id', ondelete='CASCADE'))
    work: Mapped[int] = mapped_column(ForeignKey('timesheet_work.id'), index=True)
    date: Mapped[datetime.date]
    duration: Mapped[int]
    description: Mapped[str] = mapped_column(String(DESCRIPTION_LENGTH), default='')


Pool.register(Work, Line, module='timesheet')
