"""Which database a request served at the host root works on.

Clients of Odoo cannot add a path prefix, so their protocols are served at the host root and
the database comes, in this order, from:

1. the call itself (the ``db`` argument of XML-RPC and JSON-RPC, a web session);
2. the ``X-Odoo-Database`` header (or its synonym ``X-Trylite-Database``);
3. ``[web] dbfilter``, a regular expression on the database names in which ``%h`` stands for
   the request's host name and ``%d`` for its first label (``^%d$`` serves ``demo.example.com``
   from the database ``demo``), when it leaves exactly one (a database named by 1. or 2. must
   match it too);
4. the only database there is.

Otherwise the answer is a clear error: :class:`~trylite.exceptions.DatabaseNotFound` (404)
for a database that does not exist, :class:`~trylite.exceptions.UserError` (400) when several
could be meant.
"""

from __future__ import annotations

import re

from .. import storage
from ..exceptions import DatabaseNotFound, UserError
from ..settings import current
from ..web.request import Request

__all__ = ['HEADERS', 'choose', 'visible_databases']

#: Request headers naming the database, in order of preference.
HEADERS = ('X-Odoo-Database', 'X-Trylite-Database')


def visible_databases(request: Request) -> list[str]:
    """The databases this request may be served from: all of them, narrowed by
    ``[web] dbfilter``."""
    names = storage.backend().databases()
    matching = _dbfilter(request)
    return names if matching is None else [name for name in names if matching.search(name)]


def _dbfilter(request: Request) -> re.Pattern[str] | None:
    """``[web] dbfilter`` for this request's host (``None`` when it is not set)."""
    pattern = current().web.dbfilter
    if not pattern:
        return None
    host = request.host.partition(':')[0].lower()
    expression = pattern.replace('%h', re.escape(host)).replace(
        '%d', re.escape(host.partition('.')[0]))
    try:
        return re.compile(expression)
    except re.error:
        raise UserError('Invalid dbfilter', '[web] dbfilter is not a valid regular '
                        'expression.') from None


def choose(request: Request, named: str | None = None) -> str:
    """The database *request* works on (*named* by the call itself, if it names one)."""
    if not named:
        named = next((request.headers[h] for h in HEADERS if request.headers.get(h)), None)
    if named:
        matching = _dbfilter(request)
        if not storage.backend().exists(named) or (
                matching is not None and not matching.search(named)):
            raise DatabaseNotFound(f'no trylite database named {named!r} is served here')
        return named
    candidates = visible_databases(request)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DatabaseNotFound('no trylite database is served here')
    raise UserError('Which database?', 'Several databases are served here: name one with '
                    'the X-Odoo-Database header (or the call\'s db argument).')
