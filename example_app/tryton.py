"""Tryton's timesheet protocol: the routes Chronos and Timyton call, as trytond 8.2 answers them.

Each route is served at Tryton's classic path, ``/<db>/timesheet/…``, and at trytond 8's
``/<db>/r/timesheet/…``, both directly (no redirect: httpx, hence Timyton, does not follow
one). Every route runs as the person whose validated ``timesheet`` key the request carries
(``Authorization: bearer <key>``, the scheme in any case; 401 otherwise) and accepts
``Origin: null`` and browser-extension origins, preflights included.

=========================================================  =====================================
``GET    …/timesheet/employees``                           the caller's employees
                                                           ``[{"id", "name"}]``, by name
``GET    …/timesheet/employee/<employee>/works``           the active works of the employee's
                                                           company ``[{"id", "name", "start",
                                                           "end"}]``, by lower-cased name
``GET    …/timesheet/employee/<employee>/lines/<date>``    the employee's lines of that day, by id
``POST   …/timesheet/line``                                create a line (or update the caller's
                                                           line of the same ``uuid``) → the line
``PUT    …/timesheet/line/<id>``                           update a line → the line; 204 when the
                                                           caller has no such line
``DELETE …/timesheet/line/<id>``                           delete a line → 204, whether or not
                                                           the caller had it
=========================================================  =====================================

A work's ``start`` and ``end`` are the dates it is open for timesheets (``YYYY-MM-DD`` or
``null``). A line is ``{"id", "work", "work.name", "duration", "description", "uuid"}`` with
``duration`` in seconds (a number). Bodies carry ``date`` (``YYYY-MM-DD``), ``work`` (an id),
``duration`` (seconds, from 0 to 86400, fractions allowed) and ``description`` (``POST``: the
first three required), and optionally:

* ``employee``, an id, as a number or a string of digits (Chronos sends what it keeps in
  localStorage): one of the caller's employees (403 otherwise). Without it, a new line is
  booked as the caller's first employee (by id) employed on the date by the work's company,
  and an updated line keeps its employee while that still holds;
* ``uuid``: the client's id of the line, stored on create; a ``POST`` with the ``uuid`` of one
  of the caller's lines updates that line instead, so a client retrying after a lost answer
  never duplicates it. On update the ``uuid`` is left as it is;
* ``id``, and any other key (``work.name``, ``dirty``, …): ignored.

Unlike trytond 8.2: ``id`` and ``uuid`` are accepted on create; a person never reads, writes or
deletes another person's lines, nor lists the works of another person's employee (403); a bad
employee (``null``, ``"null"``), date, work, duration or description is a 400 whose ``field``
names it, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from trylite.exceptions import FieldError
from trylite.pool import Pool
from trylite.transaction import Transaction
from trylite.web.request import storable
from trylite.wrappers import (
    allow_null_origin,
    set_max_request_size,
    user_application,
    with_pool,
    with_transaction,
)
from trylite.wsgi import Request, app

from . import booking
from .models import MAX_DURATION, UUID_LENGTH, Line, Work
from .routes import APPLICATION, MAX_BODY

#: Where Tryton's clients find the timesheet routes: classic paths, and trytond 8's.
PREFIXES = ('/<database_name>/timesheet', '/<database_name>/r/timesheet')
#: What a create must carry.
REQUIRED = ('work', 'date', 'duration')

F = Callable[..., Any]


def tryton_route(path: str, methods: list[str], max_request_size: int | None = None
                 ) -> Callable[[F], F]:
    """Serve the handler at *path* under each of :data:`PREFIXES`, wrapped as every route of
    the protocol is, in trylite's documented order::

        @app.route(prefix + path, methods=methods)
        @set_max_request_size(max_request_size)  # when given
        @allow_null_origin
        @with_pool
        @with_transaction()
        @user_application('timesheet')
    """
    def decorator(func: F) -> F:
        wrapped = with_pool(with_transaction()(user_application(APPLICATION)(func)))
        wrapped = allow_null_origin(wrapped)
        if max_request_size is not None:
            wrapped = set_max_request_size(max_request_size)(wrapped)
        for prefix in PREFIXES:
            app.route(prefix + path, methods=methods)(wrapped)
        return wrapped
    return decorator


# -- routes --------------------------------------------------------------------------------
@tryton_route('/employees', ['GET'])
def employees(request: Request, pool: Pool) -> Any:
    """The caller's employees, by name."""
    return [{'id': found.id, 'name': found.name} for found in booking.own_employees()]


@tryton_route('/employee/<employee>/works', ['GET'])
def works(request: Request, pool: Pool, employee: str) -> Any:
    """The active works of the company of one of the caller's employees, by lower-cased
    name."""
    found = booking.own_employee(booking.parse_id(employee, 'employee'))
    rows = Transaction().session.scalars(
        select(Work).where(Work.company == found.company, Work.active))
    return sorted(({'id': work.id, 'name': work.name,
                    'start': _day(work.timesheet_start_date),
                    'end': _day(work.timesheet_end_date)} for work in rows),
                  key=lambda work: (work['name'].lower(), work['id']))


@tryton_route('/employee/<employee>/lines/<date>', ['GET'])
def lines(request: Request, pool: Pool, employee: str, date: str) -> Any:
    """The lines of one of the caller's employees on one day, by id."""
    employee_id = booking.parse_id(employee, 'employee')
    day = booking.parse_date({'date': date}, 'date')
    found = booking.own_employee(employee_id)
    query = (select(Line, Work.name).join(Work, Work.id == Line.work)
             .where(Line.employee == found.id, Line.user == Transaction().user,
                    Line.date == day)
             .order_by(Line.id))
    return [as_json(line, name) for line, name in Transaction().session.execute(query)]


@tryton_route('/line', ['POST'], MAX_BODY)
def create_line(request: Request, pool: Pool) -> Any:
    """Create a line — or, when the caller has a line of the body's ``uuid``, update it."""
    data = _body(request)
    values = parse(data, REQUIRED)
    uuid = _uuid(data.get('uuid'))
    user = Transaction().user
    found = None
    if uuid is not None:
        found = Transaction().session.scalars(
            select(Line).where(Line.user == user, Line.uuid == uuid)).first()
    if found is None:
        found = Line(user=user, uuid=uuid, description='')
    booking.write(found, values, employee_required=True)
    return as_json(found)


@tryton_route(f'/line/<int(max={booking.MAX_ID}):line_id>', ['PUT', 'DELETE'], MAX_BODY)
def line(request: Request, pool: Pool, line_id: int) -> Any:
    """``PUT``: update one of the caller's lines (204 when they have none of that id).
    ``DELETE``: delete it (204 in any case)."""
    found = booking.own_line(line_id)
    if request.method == 'DELETE':
        if found is not None:
            Transaction().session.delete(found)
        return Response(status=204)
    values = parse(_body(request), ())
    if found is None:
        return Response(status=204)
    booking.write(found, values, employee_required=True)
    return as_json(found)


# -- bodies --------------------------------------------------------------------------------
def _body(request: Request) -> dict[str, Any]:
    """The JSON object of the body (415 if it is not JSON, 400 if it is not an object)."""
    data = request.get_json()
    if not isinstance(data, dict):
        raise BadRequest('The body must be a JSON object.')
    return data


def parse(data: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    """The values of a line's body for :func:`booking.write`; *required* fields must be
    there and not ``null``, and keys Tryton's clients add (``id``, ``work.name``, ``dirty``,
    …) are ignored. 400 naming the field at fault."""
    for name in required:
        if data.get(name) is None:
            raise FieldError(name, f'The field {name!r} is required.')
    values: dict[str, Any] = {}
    if 'work' in data:
        values['work'] = booking.parse_id(data['work'], 'work')
    if 'date' in data:
        values['date'] = booking.parse_date(data, 'date')
    if 'duration' in data:
        values['duration'] = _seconds(data['duration'])
    if 'description' in data:
        values['description'] = booking.check_description(data['description'])
    if 'employee' in data:
        values['employee'] = booking.own_employee(booking.parse_id(data['employee'],
                                                                   'employee'))
    return values


def _seconds(value: Any) -> float:
    """A duration in seconds: a number from 0 to a day; 400 naming ``duration`` otherwise."""
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not 0 <= value <= MAX_DURATION):  # NaN is not, and JSON has no infinity
        raise FieldError('duration', "'duration' must be a number of seconds from 0 to "
                         f'{MAX_DURATION}.')
    return float(value)


def _uuid(value: Any) -> str | None:
    """The client's id of a line: a string (``null`` or ``""`` for none); 400 naming
    ``uuid`` otherwise."""
    if value in (None, ''):
        return None
    if not isinstance(value, str) or len(value) > UUID_LENGTH or not storable(value):
        raise FieldError('uuid', f"'uuid' must be text of at most {UUID_LENGTH} characters.")
    return value


# -- answers -------------------------------------------------------------------------------
def _day(value: Any) -> str | None:
    return value.strftime('%Y-%m-%d') if value is not None else None


def as_json(found: Line, work_name: str | None = None) -> dict[str, Any]:
    """A line as Tryton's clients read it: exactly these keys (Timyton fails on others)."""
    if work_name is None:
        work = Transaction().session.get(Work, found.work)
        work_name = work.name if work is not None else ''
    return {'id': found.id, 'work': found.work, 'work.name': work_name,
            'duration': float(found.duration), 'description': found.description,
            'uuid': found.uuid}
