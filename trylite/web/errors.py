"""The one error registry: which exception becomes which answer.

Every exception that leaves a handler is looked up here by class (the nearest class in its
MRO wins, like Starlette's ``exception_handlers``) and becomes a :class:`Problem`: a status,
a message, an optional description, headers and extra fields. A route's *error renderer*
then draws it — JSON by default (:func:`render_json`), HTML for pages that say so.

An exception no entry knows is unexpected: it is logged with its traceback and answers 500
without any detail (unless ``[web] debug``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from werkzeug.exceptions import HTTPException

from ..exceptions import (
    AccessError,
    AuthenticationFailed,
    BadArguments,
    ConstraintViolation,
    DatabaseNotFound,
    Duplicate,
    FieldError,
    InvalidBody,
    MethodNotFound,
    ModelNotFound,
    ReadOnlyViolation,
    Retryable,
    StatementTimeout,
    Throttled,
    Unavailable,
    UnstorableText,
    UserError,
)
from .request import Request
from .responses import Response, json_response

__all__ = ['CHALLENGE', 'DEFAULT_HANDLERS', 'ErrorRenderer', 'ExceptionHandler', 'Problem',
           'find_handler', 'render_json']

logger = logging.getLogger(__name__)

#: The one ``WWW-Authenticate`` challenge of every 401 (quoted as RFC 6750 shows it).
CHALLENGE = 'Bearer realm="trylite"'


@dataclass(frozen=True)
class Problem:
    """What went wrong, as the client is told: ``{"status", "message"[, "description"]}``
    plus *extra* fields, with *headers*."""

    status: int
    message: str
    description: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {'status': self.status, 'message': self.message}
        if self.description is not None:
            body['description'] = self.description
        body.update(self.extra)
        return body


#: Turns an exception into a problem; ``None`` means: unexpected after all (500, logged).
ExceptionHandler = Callable[[Any], Problem | None]
#: Draws a problem as a response, for one route.
ErrorRenderer = Callable[[Request, Problem], Response]
E = TypeVar('E', bound=BaseException)


def render_json(request: Request, problem: Problem) -> Response:
    """The JSON error answer (the default renderer)."""
    return json_response(problem.body(), problem.status, problem.headers)


def _http(exc: HTTPException) -> Problem:
    headers = tuple((k, v) for k, v in exc.get_headers() if k.lower() != 'content-type')
    extra = {'field': exc.field} if isinstance(exc, FieldError) else {}
    return Problem(exc.code or 500, exc.name, vars(exc).get('description'), headers, extra)


def _read_only(exc: ReadOnlyViolation) -> None:
    logger.error('a read-only transaction tried to write; declare the route '
                 'with_transaction(readonly=False)')


def _busy(description: str) -> Callable[[BaseException], Problem]:
    return lambda exc: Problem(503, 'Service Unavailable', description, (('Retry-After', '1'),))


DEFAULT_HANDLERS: dict[type[BaseException], ExceptionHandler] = {
    HTTPException: _http,
    UserError: lambda exc: Problem(400, exc.message, exc.description),
    AuthenticationFailed: lambda exc: Problem(
        401, 'Unauthorized', exc.description, (('WWW-Authenticate', CHALLENGE),)),
    Throttled: lambda exc: Problem(
        429, 'Too Many Requests', exc.description, (('Retry-After', str(exc.retry_after)),)),
    DatabaseNotFound: lambda exc: Problem(404, 'Not Found'),
    AccessError: lambda exc: Problem(403, 'Forbidden', str(exc)),
    ModelNotFound: lambda exc: Problem(404, 'Not Found', str(exc)),
    MethodNotFound: lambda exc: Problem(404, 'Not Found', str(exc)),
    BadArguments: lambda exc: Problem(422, 'Unprocessable Entity', str(exc)),
    InvalidBody: lambda exc: Problem(422, 'Unprocessable Entity', str(exc),
                                     extra={'errors': exc.errors}),
    Retryable: _busy('The database is busy; try again shortly.'),
    Unavailable: _busy('The database is busy or unreachable; try again shortly.'),
    StatementTimeout: lambda exc: Problem(
        504, 'Gateway Timeout', 'The database took too long to answer.'),
    UnstorableText: lambda exc: Problem(
        400, 'Bad Request', 'The request contains a NUL character or an unpaired surrogate.'),
    Duplicate: lambda exc: Problem(
        409, 'Conflict', 'A record with the same unique value already exists.'),
    ConstraintViolation: lambda exc: Problem(
        409, 'Conflict', 'The change breaks a rule of the stored data.'),
    ReadOnlyViolation: _read_only,
}


def find_handler(handlers: Mapping[type[BaseException], ExceptionHandler],
                 exc: BaseException) -> ExceptionHandler | None:
    """The handler of the nearest class of *exc* in *handlers*."""
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None
