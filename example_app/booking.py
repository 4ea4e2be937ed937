"""Booking time: the rules every timesheet line obeys, whichever protocol writes it.

Both APIs of the example — its own (:mod:`example_app.routes`, minutes) and Tryton's
(:mod:`example_app.tryton`, seconds) — parse their bodies their own way, then hand the values to
:func:`write`, which checks what depends on the stored data and sets them on the line:

* a work named in the values must exist and be active;
* the line's work must be open for timesheets on the line's date;
* the line is booked as one of the caller's employees (see :func:`write`), who must be employed
  on that date by the work's company.

Every refusal is a 400 naming the field at fault, except an employee who is not the caller's:
403, whether it exists or not.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from werkzeug.exceptions import Forbidden

from trylite.exceptions import FieldError
from trylite.transaction import Transaction
from trylite.web.request import storable

from .models import DESCRIPTION_LENGTH, Employee, Line, Work

#: Largest id a URL or a body may name (ids are 32-bit integers in every database).
MAX_ID = 2**31 - 1
DATE_RE = re.compile(r'\d{4}-\d{2}-\d{2}')
ID_RE = re.compile(r'[0-9]{1,10}')


# -- values --------------------------------------------------------------------------------
def parse_date(values: Any, field: str, required: bool = True) -> datetime.date | None:
    """The ``YYYY-MM-DD`` date in ``values[field]``; 400 naming *field* if it is not one
    (``None`` for a missing or empty value when not *required*)."""
    value = values.get(field)
    if value in (None, '') and not required:
        return None
    if not isinstance(value, str) or not DATE_RE.fullmatch(value):
        raise FieldError(field, f'{field!r} must be a date written YYYY-MM-DD.')
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise FieldError(field, f'{field!r} is not a valid date: {value}.') from None


def parse_id(value: Any, field: str) -> int:
    """The record id *value*: a whole number, or a string of digits (Chronos keeps ids it
    stored as strings); 400 naming *field* for anything else (``null``, ``"null"``, …)."""
    if isinstance(value, str) and ID_RE.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    shown = repr(value) if len(repr(value)) <= 40 else 'that'
    raise FieldError(field, f'{field!r} must be the id of a record, not {shown}.')


def check_description(value: Any) -> str:
    """A line's description (``null`` is none: ``''``); 400 naming ``description`` unless it
    is a storable string of at most the allowed length."""
    if value is None:
        return ''
    if not isinstance(value, str) or not storable(value):
        raise FieldError('description', "'description' must be text or null.")
    if len(value) > DESCRIPTION_LENGTH:
        raise FieldError('description', f"'description' must not exceed "
                         f'{DESCRIPTION_LENGTH} characters.')
    return value


# -- records of the caller -----------------------------------------------------------------
def own_line(line_id: int) -> Line | None:
    """The caller's line *line_id*, or ``None`` (also when it is someone else's)."""
    return Transaction().session.scalars(
        select(Line).where(Line.id == line_id, Line.user == Transaction().user)).first()


def own_employees() -> list[Employee]:
    """The caller's employees, by name."""
    return list(Transaction().session.scalars(
        select(Employee).where(Employee.user == Transaction().user)
        .order_by(Employee.name, Employee.id)))


def own_employee(employee_id: int) -> Employee:
    """The caller's employee *employee_id*; 403 when it is not one of theirs (or does not
    exist: the answer tells nothing about other persons' employees)."""
    found = Transaction().session.get(Employee, employee_id)
    if found is None or found.user != Transaction().user:
        raise Forbidden(f'Employee {employee_id} is not one of yours.')
    return found


def active_work(work_id: int) -> Work:
    """The active work *work_id*; 400 naming ``work`` otherwise."""
    found = Transaction().session.get(Work, work_id) if 0 < work_id <= MAX_ID else None
    if found is None or not found.active:
        raise FieldError('work', f'There is no active work {work_id}.')
    return found


# -- writing a line ------------------------------------------------------------------------
def write(line: Line, values: Mapping[str, Any], employee_required: bool = False) -> None:
    """Set the parsed *values* on *line*, check them against the stored data, and flush.

    *values* may hold ``work`` (an id), ``date``, ``duration`` (seconds), ``description``
    and ``employee`` (one of the caller's :class:`Employee`, from :func:`own_employee`). When
    the work, the date or the employee changes, the line's work must be open on its date, and
    the line is booked as:

    * the ``employee`` given, who must be employed on the date by the work's company;
    * else its own employee, while they still are;
    * else the first (by id) of the caller's employees who is — and when none is, no employee
      (400 naming ``employee`` if *employee_required*: Tryton's lines always have one).
    """
    session = Transaction().session
    if 'work' in values:
        line.work = active_work(values['work']).id
    for name in ('date', 'duration', 'description'):
        if name in values:
            setattr(line, name, values[name])
    if values.keys() & {'work', 'date', 'employee'}:
        work = session.get(Work, line.work)
        assert work is not None  # a foreign key
        if not work.open_on(line.date):
            raise FieldError('work' if 'work' in values else 'date',
                             f'The work {work.name!r} is not open for timesheets on '
                             f'{line.date}.')
        _book_as(line, work, values.get('employee'), employee_required)
    session.add(line)
    session.flush()


def _fits(employee: Employee, line: Line, work: Work) -> bool:
    return (employee.user == line.user and employee.company == work.company
            and employee.employed_on(line.date))


def _book_as(line: Line, work: Work, chosen: Employee | None, required: bool) -> None:
    """Set the employee *line* is booked as (see :func:`write`)."""
    if chosen is not None:
        if not chosen.employed_on(line.date):
            raise FieldError('employee', f'{chosen.name} is not employed on {line.date}.')
        if chosen.company != work.company:
            raise FieldError('work', f"The work {work.name!r} is not one of {chosen.name}'s "
                             'company.')
        line.employee = chosen.id
        return
    session = Transaction().session
    current = session.get(Employee, line.employee) if line.employee else None
    if current is None or not _fits(current, line, work):
        current = next((employee for employee in session.scalars(
            select(Employee).where(Employee.user == line.user).order_by(Employee.id))
            if _fits(employee, line, work)), None)
    if current is None and required:
        raise FieldError('employee', f'None of your employees may book time on the work '
                         f'{work.name!r} on {line.date}.')
    line.employee = current.id if current else None
