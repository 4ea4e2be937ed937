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
id of an active work, ``date`` is ``YYYY-MM-DD``, ``duration`` a whole number of minutes from 1
to 1440, ``description`` a string of at most 500 characters or ``null``. Bad input answers 400
whose JSON ``field`` names the field at fault; a body that is not JSON answers 415.
"""

from __future__ import annotations

import datetime
import re
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

from .models import DESCRIPTION_LENGTH, MAX_DURATION, Line, Work

APPLICATION = 'timesheet'
register_application(APPLICATION, 'Timesheet')

#: Largest request body of the line routes, in bytes (a line is far smaller).
MAX_BODY = 8 * 1024
#: Largest id a URL or a body may name (ids are 32-bit integers in every database).
MAX_ID = 2**31 - 1
#: What the body of each write may hold, and the JSON type of each field.
FIELDS = ('work', 'date', 'duration', 'description')
TYPES: dict[str, type | tuple[type, ...]] = {
    'work': int, 'date': str, 'duration': int, 'description': (str, type(None))}
DATE_RE = re.compile(r'\d{4}-\d{2}-\d{2}')


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
    found = Transaction().session.scalars(
        select(Line).where(Line.id == line_id, Line.user == Transaction().user)).first()
    if found is None:
        raise NotFound('No such line.')
    return found


def write(target: Line, data: dict[str, Any]) -> None:
    """Check the fields of *data* and set them on *target* (added to the session)."""
    session = Transaction().session
    if 'work' in data:
        target.work = active_work(data['work']).id
    if 'date' in data:
        target.date = parse_date(data, 'date') or target.date
    if 'duration' in data:
        duration = data['duration']
        if not 1 <= duration <= MAX_DURATION:
            raise FieldError('duration', f"'duration' must be from 1 to {MAX_DURATION} "
                             'minutes.')
        target.duration = duration
    if 'description' in data:
        description = data['description'] or ''
        if len(description) > DESCRIPTION_LENGTH:
            raise FieldError('description', f"'description' must not exceed "
                             f'{DESCRIPTION_LENGTH} characters.')
        target.description = description
    session.add(target)
    session.flush()


def active_work(work_id: int) -> Work:
    """The active work *work_id*; 400 naming ``work`` otherwise."""
    found = Transaction().session.get(Work, work_id) if 0 < work_id <= MAX_ID else None
    if found is None or not found.active:
        raise FieldError('work', f'There is no active work {work_id}.')
    return found


def parse_date(values: Any, field: str, required: bool = True) -> datetime.date | None:
    """The ``YYYY-MM-DD`` date in ``values[field]``; 400 naming *field* if it is not one."""
    value = values.get(field)
    if value in (None, '') and not required:
        return None
    if not isinstance(value, str) or not DATE_RE.fullmatch(value):
        raise FieldError(field, f'{field!r} must be a date written YYYY-MM-DD.')
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise FieldError(field, f'{field!r} is not a valid date: {value}.') from None


def as_json(found: Line, work_name: str | None = None) -> dict[str, Any]:
    """The JSON object of a line."""
    if work_name is None:
        work_name = Transaction().session.get(Work, found.work).name  # type: ignore[union-attr]
    return {'id': found.id, 'work': found.work, 'work_name': work_name,
            'date': found.date, 'duration': found.duration,
            'description': found.description}
