"""The timesheet's models: companies and their employees, works, and the lines booked on them.

``company.company`` employs persons: a ``company.employee`` links one person (``res.user``) to
one company, from ``start_date`` to ``end_date`` (either may be open); a person may be several
employees, in several companies. ``timesheet.work`` is something to book time on, of one
company (or of none: such works are booked through the example's own API only), open for
timesheets from ``timesheet_start_date`` to ``timesheet_end_date`` (either may be open); a work is
never deleted, only deactivated, so old lines keep their work. ``timesheet.line`` belongs to one
person (``user``) and, when booked as one of their employees, to that employee; the routes only
ever show or change the caller's own lines.

A line's ``duration`` is stored in seconds (a number, fractions allowed) whichever protocol
wrote it: Tryton's protocol speaks seconds, the example's own API minutes.
"""

from __future__ import annotations

import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trylite.model import Model
from trylite.pool import Pool

#: Longest company, employee and work name, line description and line uuid, in characters.
NAME_LENGTH = 100
DESCRIPTION_LENGTH = 500
UUID_LENGTH = 100
#: Longest line, in seconds: one day.
MAX_DURATION = 24 * 60 * 60


def within(day: datetime.date, start: datetime.date | None, end: datetime.date | None) -> bool:
    """Whether *day* is from *start* to *end*, both included (``None``: open)."""
    return (start is None or start <= day) and (end is None or day <= end)


class Company(Model):
    """A company: it employs persons and owns works."""

    __model__ = 'company.company'
    __tablename__ = 'company_company'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))


class Employee(Model):
    """One person employed by one company, from ``start_date`` to ``end_date`` (each open when
    ``None``)."""

    __model__ = 'company.employee'
    __tablename__ = 'company_employee'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    user: Mapped[int] = mapped_column(ForeignKey('res_user.id', ondelete='CASCADE'), index=True)
    company: Mapped[int] = mapped_column(ForeignKey('company_company.id'))
    start_date: Mapped[datetime.date | None] = mapped_column(default=None)
    end_date: Mapped[datetime.date | None] = mapped_column(default=None)

    def employed_on(self, day: datetime.date) -> bool:
        """Whether the employee works for their company on *day*."""
        return within(day, self.start_date, self.end_date)


class Work(Model):
    """Something to book time on: a project, a task, a customer."""

    __model__ = 'timesheet.work'
    __tablename__ = 'timesheet_work'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    active: Mapped[bool] = mapped_column(default=True)
    company: Mapped[int | None] = mapped_column(
        ForeignKey('company_company.id'), default=None, index=True)
    timesheet_start_date: Mapped[datetime.date | None] = mapped_column(default=None)
    timesheet_end_date: Mapped[datetime.date | None] = mapped_column(default=None)

    def open_on(self, day: datetime.date) -> bool:
        """Whether time may be booked on this work on *day*."""
        return within(day, self.timesheet_start_date, self.timesheet_end_date)


class Line(Model):
    """Time one person spent on one work on one day: ``duration`` seconds, booked as one of
    their employees (``employee``) or, through the example's own API, as none."""

    __model__ = 'timesheet.line'
    __tablename__ = 'timesheet_line'
    __table_args__ = (
        Index('ix_timesheet_line_user_date', 'user', 'date'),
        Index('ix_timesheet_line_employee_date', 'employee', 'date'),
        UniqueConstraint('user', 'uuid', name='uq_timesheet_line_user_uuid'),
        CheckConstraint(f'duration >= 0 AND duration <= {MAX_DURATION}',
                        name='ck_timesheet_line_duration'),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user: Mapped[int] = mapped_column(ForeignKey('res_user.id', ondelete='CASCADE'))
    employee: Mapped[int | None] = mapped_column(
        ForeignKey('company_employee.id', ondelete='SET NULL'), default=None)
    work: Mapped[int] = mapped_column(ForeignKey('timesheet_work.id'), index=True)
    date: Mapped[datetime.date]
    duration: Mapped[float]
    description: Mapped[str] = mapped_column(String(DESCRIPTION_LENGTH), default='')
    #: The client's own id of the line (Tryton's clients send a UUID), unique per person.
    uuid: Mapped[str | None] = mapped_column(String(UUID_LENGTH), default=None)


Pool.register(Company, Employee, Work, Line, module='timesheet')
