"""The timesheet API: user-application routes under ``/<database_name>/timesheet/``.

Every route runs as the person whose validated ``timesheet`` key the request carries
(``Authorization: Bearer <key>``; 401 otherwise) and only ever sees that person's lines:
another person's line is answered 404, exactly like a line that does not exist.

==========================================  ======================================================
``GET    /<db>/timesheet/works``            active works ``[{"id", "name"}]``, by name
``GET    /<db>/timesheet/lines``            the caller's lines, newest first; ``?from=`` and
                                            ``?to=`` (``YYYY-MM-DD``, inclusive) narrow the dates
``POST   /<db>/timesheet/lines``            create a line → 201 and the line
``GET    /<db>/timesheet/lines/<id>``       one line
``PUT    /<db>/timesheet/lines/<id>``       replace a line (``work``, ``date``, ``duration``
                                            required)
``PATCH  /<db>/timesheet/lines/<id>``       change some fields of a line
``DELETE /<db>/timesheet/lines/<id>``       delete a line → 204
==========================================  ======================================================

A line is ``{"id", "work", "work_name", "date", "duration", "description"}``: ``work`` is the
id of an active work open for timesheets on the date, ``date`` is ``YYYY-MM-DD``, ``duration`` a
whole number of minutes from 1 to 1440, ``description`` a string of at most 500 characters or
``null``. Bad input answers 400 whose JSON ``field`` names the field at fault; a body that is
not JSON answers 415.

These are the same lines Tryton's clients book through :mod:`example_app.tryton`, which stores
durations in seconds: such a line shows here rounded to the nearest minute. A line written here
is booked as the caller's employee who may book its work on its date (see
:func:`example_app.booking.write`), or as none when they have no such employee.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import select
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from trylite.exceptions import FieldError
from trylite.pool import Pool
from trylite.transaction import Transaction
from trylite.user_application import register_application
from trylite.wrappers import (
    allow_null_origin,
    set_max_request_size,
    user_application,
    with_pool,
    with_transaction,
)
from trylite.wsgi import Request, app, json_response

from . import booking
from .booking import MAX_ID, parse_date
from .models import MAX_DURATION, Line, Work

APPLICATION = 'timesheet'
register_application(APPLICATION, 'Timesheet')

#: Largest request body of the line routes, in bytes (a line is far smaller).
MAX_BODY = 8 * 1024
#: Longest line, in minutes: one day.
MAX_MINUTES = MAX_DURATION // 60
#: What the body of each write may hold, and the JSON type of each field.
FIELDS = ('work', 'date', 'duration', 'description')
TYPES: dict[str, type | tuple[type, ...]] = {
    'work': int, 'date': str, 'duration': int, 'description': (str, type(None))}


# -- routes --------------------------------------------------------------------------------
@app.route('/<database_name>/timesheet/works', methods=['GET'])
@allow_null_origin
@with_pool
@with_transaction()
@user_application(APPLICATION)
def works(request: Request, pool: Pool) -> Any:
    """The active works, by name."""
    query = select(Work.id, Work.name).where(Work.active).order_by(Work.name, Work.id)
    return [{'id': id_, 'name': name}
            for id_, name in Transaction().session.execute(query)]


@app.route('/<database_name>/timesheet/lines', methods=['GET', 'POST'])
@set_max_request_size(MAX_BODY)
@allow_null_origin
@with_pool
@with_transaction()
@user_application(APPLICATION)
def lines(request: Request, pool: Pool) -> Any:
    """``GET``: the caller's lines in a date range. ``POST``: create one (201)."""
    if request.method == 'GET':
        return list_lines(parse_date(request.args, 'from', required=False),
                          parse_date(request.args, 'to', required=False))
    data = request.get_json_object(
        required=('work', 'date', 'duration'), optional=('description',), types=TYPES)
    line = Line(user=Transaction().user, description='')
    write(line, data)
    return json_response(as_json(line), 201, [
        ('Location', f'/{pool.database_name}/timesheet/lines/{line.id}')])


@app.route(f'/<database_name>/timesheet/lines/<int(max={MAX_ID}):line_id>',
           methods=['GET', 'PUT', 'PATCH', 'DELETE'])
@set_max_request_size(MAX_BODY)
@allow_null_origin
@with_pool
@with_transaction()
@user_application(APPLICATION)
def line(request: Request, pool: Pool, line_id: int) -> Any:
    """One of the caller's lines: read, replace, change or delete it (404 if not theirs)."""
    found = own_line(line_id)
    if request.method == 'DELETE':
        Transaction().session.delete(found)
        return Response(status=204)
    if request.method == 'PUT':
        data = request.get_json_object(
            required=('work', 'date', 'duration'), optional=('description',), types=TYPES)
        data.setdefault('description', None)
        write(found, data)
    elif request.method == 'PATCH':
        write(found, request.get_json_object(optional=FIELDS, types=TYPES))
    return as_json(found)


# -- the work behind them ------------------------------------------------------------------
def list_lines(start: datetime.date | None, end: datetime.date | None) -> list[dict[str, Any]]:
    """The caller's lines from *start* to *end* (inclusive, each optional), newest first."""
    if start and end and start > end:
        raise FieldError('to', "'to' must not be before 'from'.")
    query = (select(Line, Work.name).join(Work, Work.id == Line.work)
             .where(Line.user == Transaction().user)
             .order_by(Line.date.desc(), Line.id.desc()))
    if start:
        query = query.where(Line.date >= start)
    if end:
        query = query.where(Line.date <= end)
    return [as_json(found, name) for found, name in Transaction().session.execute(query)]


def own_line(line_id: int) -> Line:
    """The caller's line *line_id*; 404 when it does not exist or is someone else's."""
    found = booking.own_line(line_id)
    if found is None:
        raise NotFound('No such line.')
    return found


def write(target: Line, data: dict[str, Any]) -> None:
    """Check the fields of *data* (durations in minutes) and write them to *target*."""
    values = dict(data)
    if 'date' in data:
        values['date'] = parse_date(data, 'date')
    if 'duration' in data:
        if not 1 <= data['duration'] <= MAX_MINUTES:
            raise FieldError('duration', f"'duration' must be from 1 to {MAX_MINUTES} "
                             'minutes.')
        values['duration'] = data['duration'] * 60
    if 'description' in data:
        values['description'] = booking.check_description(data['description'])
    booking.write(target, values)


def as_json(found: Line, work_name: str | None = None) -> dict[str, Any]:
    """The JSON object of a line (its duration rounded to the nearest minute: Tryton's
    clients book seconds)."""
    if work_name is None:
        work_name = Transaction().session.get(Work, found.work).name  # type: ignore[union-attr]
    return {'id': found.id, 'work': found.work, 'work_name': work_name,
            'date': found.date, 'duration': int((found.duration + 30) // 60),
            'description': found.description}
