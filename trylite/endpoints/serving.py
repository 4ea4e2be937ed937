"""Serving endpoints: the two catch-all routes, authentication, bodies and the snippet's run.

``/<database_name>/api/endpoint/<path>`` and ``/api/endpoint/<path>`` (the database chosen by
:func:`trylite.protocols.databases.choose`: the ``X-Odoo-Database``/``X-Trylite-Database``
header, ``[web] dbfilter``, the only database) take every method. In one transaction —
read-only for GET and HEAD — a request is answered in this order:

1. the database's endpoint at the path (:mod:`.catalog`): 404 when there is none, 405 with
   ``Allow`` when none takes the method;
2. authentication by ``auth_type``: ``public`` (none); ``user`` — a personal API key, a key of
   a user application that declared the endpoint's route group (``Authorization: Bearer``),
   or the preferences session cookie ``trylite_session``; ``application:<name>`` — a key of
   that application. Failures answer 401 with the challenge and count against the client
   like every key failure;
3. the content type, compared without parameters: 415 when it differs; the body parsed (400)
   and validated against the request schema (422 listing every error);
4. the snippet, run in the sandbox (:mod:`.sandbox`) as ``exec_as_user`` when set, else as the
   caller — its ``env`` calls under that person's access rights and, when it runs as the
   caller, the key's scope. ``UserError`` answers 400, the HTTP errors their status; a failure
   answers 500 without detail (logged with the endpoint's name); a snippet still running after
   ``[endpoint] timeout`` seconds is killed and answers 504.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import BadRequest, Conflict, Forbidden, NotFound, UnsupportedMediaType

from ..auth import apikeys, keys
from ..auth.persons import User
from ..data import dispatch
from ..data.dispatch import FULL, Scope
from ..exceptions import AuthenticationFailed, UserError
from ..pool import Pool
from ..preferences import current_user
from ..protocols.databases import choose
from ..settings import current
from ..transaction import Transaction
from ..web.app import TryliteWSGI
from ..web.errors import Problem
from ..web.request import Request
from ..web.responses import Response
from ..wrappers import with_pool, with_transaction
from . import routing, sandbox, schemas
from .catalog import Definition, catalog

__all__ = ['EndpointFailed', 'EndpointTimeout', 'install']

logger = logging.getLogger('trylite.endpoints')

#: Request headers a snippet never sees (credentials).
HIDDEN_HEADERS = frozenset({'authorization', 'cookie', 'proxy-authorization'})
_LEVELS = {'debug': logging.DEBUG, 'info': logging.INFO, 'warning': logging.WARNING,
           'error': logging.ERROR}


class EndpointFailed(Exception):
    """The endpoint failed (logged with its name): 500 without detail."""


class EndpointTimeout(Exception):
    """The endpoint's snippet ran too long and was stopped: 504."""


@with_pool
@with_transaction()
def serve(request: Request, pool: Pool, rest: str) -> Response:
    """Answer a request to an endpoint of the URL's database."""
    return _answer(request, '/' + rest)


def serve_at_root(request: Request, rest: str) -> Any:
    """Answer a request to an endpoint of the database the request chooses."""
    return serve(request, choose(request), rest=rest)


def _answer(request: Request, path: str) -> Response:
    found, params = catalog().match(path, request.method)
    caller, scope = _authenticate(request, found)
    run_as = _run_as(found, caller)
    value = _body(request, found)
    job = {
        'request': {
            'method': request.method, 'path': request.path,
            'args': request.args.to_dict(), 'form': request.form.to_dict(),
            'headers': {name.lower(): text for name, text in request.headers.items()
                        if name.lower() not in HIDDEN_HEADERS},
            'params': {name: str(v) if isinstance(v, uuid.UUID) else v
                       for name, v in params.items()},
            'content_type': request.mimetype or None, 'json': value,
            'xml': found.body_kind == 'xml'},
        'user': _person(run_as),
        'caller': _person(caller) if caller is not None else None,
    }
    transaction = Transaction()
    with transaction.set_user(run_as.id):
        answer = _run(found, job, request.get_data(), FULL if found.exec_as_user_id else scope)
    return Response(answer.body, answer.status, answer.headers,
                    content_type=answer.content_type)


def _person(user: User) -> dict[str, Any]:
    return {'id': user.id, 'login': user.login, 'name': user.name}


# -- authentication ---------------------------------------------------------------------------
def _authenticate(request: Request, found: Definition) -> tuple[User | None, Scope]:
    """The caller and their key's scope (``None`` for public endpoints)."""
    if found.auth_type == 'public':
        return None, FULL
    token = request.bearer_token
    if found.auth_type.startswith('application:'):
        application = found.auth_type.partition(':')[2]
        return (keys.authenticate(token, application, request.remote_addr),
                keys.application_scope(application))
    if token is None:
        login = current_user(request)
        if login is not None:
            return login[0], FULL
    identity = apikeys.authenticate(token, request.remote_addr)
    if identity.application is not None:  # the key of a user application: its groups?
        declared = keys.application_endpoint_groups(identity.application)
        if not found.route_group or found.route_group not in declared:
            raise AuthenticationFailed('This endpoint takes personal API keys and the keys of '
                                       'applications that declared its route group.')
    return identity.user, identity.scope


def _run_as(found: Definition, caller: User | None) -> User:
    """The person the snippet runs as: ``exec_as_user`` when set, else the caller."""
    if found.exec_as_user_id is None and caller is not None:
        return caller
    person = Transaction().session.get(User, found.exec_as_user_id)
    if person is None or not person.active:
        logger.error('endpoint %r runs as a person who is gone or deactivated', found.name)
        raise EndpointFailed()
    return person


# -- bodies -----------------------------------------------------------------------------------
def _body(request: Request, found: Definition) -> Any:
    """The JSON value of the body (``None`` otherwise), checked against the endpoint's
    content type and schema."""
    if found.content_type is None:
        return None
    if request.mimetype != found.content_type:
        raise UnsupportedMediaType(f'This endpoint takes {found.content_type} bodies.')
    parsed = schemas.parse(request.get_data(), found.body_kind)
    if found.request_schema:
        schemas.validate(found.request_schema, found.body_kind, parsed)
    return parsed if found.body_kind == 'json' else None


# -- the snippet ------------------------------------------------------------------------------
def _run(found: Definition, job: dict[str, Any], body: bytes, scope: Scope) -> sandbox.Answer:
    """The snippet's answer; its failures raised as the errors they answer with."""
    settings = current().endpoint
    limits = sandbox.Limits(settings.timeout, settings.memory * 1024 * 1024,
                            settings.max_response)
    transaction = Transaction()

    def call(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if transaction.readonly and not dispatch.is_readonly(model, method):
            raise sandbox.SnippetFailed(f'{model}.{method} writes, and {found.method} '
                                        'endpoints run read-only')
        return dispatch.call(model, method, args, kwargs, scope=scope)

    def log(level: str, message: str) -> None:
        logger.log(_LEVELS.get(level, logging.INFO), 'endpoint %r: %s', found.name, message)

    try:
        return sandbox.run(sandbox.compile_snippet(found.code), job, body, limits, call, log)
    except sandbox.SnippetRaised as exc:
        raise _raised(exc) from None
    except sandbox.SnippetTimeout:
        logger.warning('endpoint %r ran longer than [endpoint] timeout (%s s) and was stopped',
                       found.name, settings.timeout)
        raise EndpointTimeout() from None
    except (sandbox.SnippetFailed, UserError) as exc:  # UserError: code stored unchecked
        logger.error('endpoint %r failed: %s', found.name, exc)
        raise EndpointFailed() from None


_HTTP_ERRORS: dict[str, Callable[[str | None], Exception]] = {
    'BadRequest': BadRequest, 'Forbidden': Forbidden, 'NotFound': NotFound,
    'Conflict': Conflict,
    'Unauthorized': lambda description: AuthenticationFailed(
        description or 'Valid credentials are required.'),
}


def _raised(exc: sandbox.SnippetRaised) -> Exception:
    """The error a snippet raised, as trylite raises it."""
    if exc.kind == 'UserError':
        return UserError(exc.message or 'Error', exc.description)
    return _HTTP_ERRORS[exc.kind](exc.description or None)


# -- installing -------------------------------------------------------------------------------
def install(app: TryliteWSGI) -> None:
    """Serve endpoints on *app*, and map their errors."""
    app.route(f'/<database_name>{routing.PREFIX}/<path:rest>')(serve)
    app.route(f'{routing.PREFIX}/<path:rest>')(serve_at_root)
    routing.serve_on(app.url_map, (serve, serve_at_root))
    app.exception_handlers[EndpointFailed] = lambda exc: Problem(500, 'Internal Server Error')
    app.exception_handlers[EndpointTimeout] = lambda exc: Problem(
        504, 'Gateway Timeout', 'The endpoint took too long to answer.')
