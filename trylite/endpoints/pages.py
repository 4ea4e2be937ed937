"""The endpoints page of the preferences site, for administrators.

Server-rendered HTML like the other preferences pages (same session cookie, CSRF tokens,
headers and look; no script):

* ``GET /<db>/preferences/endpoints/`` — the endpoints, each with its method, route, auth type,
  route group and state, and the buttons **Edit**, **Disable**/**Enable** and **Delete**
  (without a login: the preferences login form);
* ``GET /<db>/preferences/endpoints/new`` and ``GET /<db>/preferences/endpoints/<id>`` — the
  form of a new or an existing endpoint;
* ``POST /<db>/preferences/endpoints/save`` — the form's fields (``id`` for an existing one)
  and ``csrf_token``: saved through the data layer as the logged-in person, then ``303`` back
  to the list; a refused definition shows the form again with the reason (400);
* ``POST /<db>/preferences/endpoints/action`` — ``id``, ``action`` (``enable``, ``disable``
  or ``delete``) and ``csrf_token``; ``303`` back to the list.

Only members of the ``admin`` group get past the login (403 otherwise); errors are HTML pages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from ..auth.keys import applications
from ..auth.persons import User, is_admin
from ..exceptions import UserError
from ..pool import Pool
from ..preferences import (
    base_path,
    current_user,
    login_page,
    posted_by,
    protect,
    render,
    render_error,
    session_csrf,
)
from ..transaction import Transaction
from ..web.app import TryliteWSGI
from ..web.request import Request
from ..web.responses import Response
from ..wrappers import with_pool, with_transaction
from .models import AUTH_TYPES, METHODS, Endpoint

__all__ = ['install']

#: What the list shows of each endpoint.
LISTED = ['name', 'route', 'route_group', 'method', 'auth_type', 'active', 'content_type']
#: The actions of the list's buttons, and how they are reported.
ACTIONS = {'enable': 'enabled', 'disable': 'disabled', 'delete': 'deleted'}
_TEXT_FIELDS = ('name', 'route', 'route_group', 'auth_type', 'method', 'content_type',
                'request_schema', 'code')


def _admin(request: Request) -> tuple[User, str] | None:
    """The logged-in administrator and their session token (``None``: nobody logged in);
    403 for anyone else."""
    login = current_user(request)
    return None if login is None else _only_admins(login)


def _posted_by_admin(request: Request) -> tuple[User, str]:
    """The administrator who posted this form, and their session token (CSRF checked)."""
    return _only_admins(posted_by(request))


def _only_admins(login: tuple[User, str]) -> tuple[User, str]:
    if not is_admin(login[0]):
        raise Forbidden('Only administrators manage endpoints.')
    return login


def _endpoints(user: User, domain: list[Any], fields: list[str] | None) -> list[dict[str, Any]]:
    """``search_read`` of endpoints, inactive ones included, as *user*."""
    transaction = Transaction()
    with transaction.set_user(user.id), transaction.set_context(active_test=False):
        return Endpoint.search_read(domain, fields, order='name')


def _redirect(request: Request, database_name: str, **query: str) -> Response:
    """``303 See Other`` back to the list."""
    location = base_path(request, database_name) + 'endpoints/'
    if query:
        location += '?' + urlencode(query)
    return protect(Response(status=303, headers={'Location': location}))


def _page(request: Request, database_name: str, template: str, login: tuple[User, str],
          status: int = 200, **values: Any) -> Response:
    return render(request, database_name, f'endpoints/{template}', status, user=login[0],
                  csrf_token=session_csrf(login[1]), **values)


def _choices() -> dict[str, Any]:
    return {'methods': list(METHODS),
            'auth_types': [*AUTH_TYPES, *(f'application:{name}' for name in applications())]}


def _for_administrators(page: Callable[..., Response]) -> Callable[..., Response]:
    """Call ``page(request, pool, login, ...)`` for the logged-in administrator (``login``:
    the person and their session token); the login form for nobody, 403 for others."""
    @functools.wraps(page)
    def wrapper(request: Request, pool: Pool, **kwargs: Any) -> Response:
        login = _admin(request)
        if login is None:
            return login_page(request, pool.database_name)
        return page(request, pool, login, **kwargs)
    return wrapper


@with_pool
@with_transaction()
@_for_administrators
def endpoint_list(request: Request, pool: Pool, login: tuple[User, str]) -> Response:
    """The list of endpoints."""
    done, name = request.args.get('done', ''), request.args.get('name', '')
    return _page(request, pool.database_name, 'list.html', login,
                 endpoints=_endpoints(login[0], [], LISTED),
                 notice=f'Endpoint {name} {ACTIONS.get(done, "saved")}.' if done and name
                 else None)


@with_pool
@with_transaction()
@_for_administrators
def endpoint_form(request: Request, pool: Pool, login: tuple[User, str],
                  endpoint_id: int | None = None) -> Response:
    """The form of a new endpoint, or of the endpoint *endpoint_id*."""
    values: dict[str, Any] = {'method': 'GET', 'auth_type': 'user', 'active': True}
    if endpoint_id is not None:
        found = _endpoints(login[0], [('id', '=', endpoint_id)], None)
        if not found:
            raise NotFound('There is no such endpoint.')
        values = {key: value for key, value in found[0].items() if value is not False
                  or key == 'active'}
        values['run_as'] = _login_of(found[0]['exec_as_user_id'])
    return _page(request, pool.database_name, 'form.html', login, values=values, **_choices())


def _login_of(person: Any) -> str:
    if not person:
        return ''
    return Transaction().session.scalars(select(User.login).where(User.id == person[0])
                                         ).first() or ''


@with_pool
@with_transaction()
def endpoint_save(request: Request, pool: Pool) -> Response:
    """Create or change an endpoint from the form; a refused one shows the form again with
    the reason (the transaction rolls back)."""
    login = _posted_by_admin(request)
    form = request.form
    vals: dict[str, Any] = {name: form.get(name, '') for name in _TEXT_FIELDS}
    vals['active'] = form.get('active') == 'on'
    run_as, endpoint_id = form.get('run_as', '').strip(), form.get('id', '')
    if endpoint_id and not endpoint_id.isdigit():
        raise BadRequest('The form has an invalid id.')
    try:
        vals['exec_as_user_id'] = _person_id(run_as)
        with Transaction().set_user(login[0].id):
            if endpoint_id:
                Endpoint.write([int(endpoint_id)], vals)
            else:
                Endpoint.create(vals)
    except UserError as exc:
        page = _page(request, pool.database_name, 'form.html', login, 400,
                     values={**vals, 'id': int(endpoint_id) if endpoint_id else None,
                             'run_as': run_as},
                     error=f'{exc.message}: {exc.description}' if exc.description
                     else exc.message, **_choices())
        raise BadRequest(response=page) from None
    return _redirect(request, pool.database_name, done='saved', name=vals['name'].strip())


def _person_id(login: str) -> int | None:
    if not login:
        return None
    found = Transaction().session.scalars(select(User.id).where(User.login == login)).first()
    if found is None:
        raise UserError('Invalid person', f'There is no person with the login {login!r}.')
    return found


@with_pool
@with_transaction()
def endpoint_action(request: Request, pool: Pool) -> Response:
    """Enable, disable or delete an endpoint."""
    user = _posted_by_admin(request)[0]
    action, endpoint_id = request.form.get('action', ''), request.form.get('id', '')
    if action not in ACTIONS or not endpoint_id.isdigit():
        raise BadRequest('The form needs an id and an action: enable, disable or delete.')
    found = _endpoints(user, [('id', '=', int(endpoint_id))], ['name'])
    if not found:
        raise NotFound('There is no such endpoint.')
    with Transaction().set_user(user.id):
        if action == 'delete':
            Endpoint.unlink([int(endpoint_id)])
        else:
            Endpoint.write([int(endpoint_id)], {'active': action == 'enable'})
    return _redirect(request, pool.database_name, done=action, name=found[0]['name'])


def install(app: TryliteWSGI) -> None:
    """Add the endpoints page to *app*."""
    for rule, method, page in (
            ('/<database_name>/preferences/endpoints/', 'GET', endpoint_list),
            ('/<database_name>/preferences/endpoints/new', 'GET', endpoint_form),
            ('/<database_name>/preferences/endpoints/<int:endpoint_id>', 'GET', endpoint_form),
            ('/<database_name>/preferences/endpoints/save', 'POST', endpoint_save),
            ('/<database_name>/preferences/endpoints/action', 'POST', endpoint_action)):
        app.route(rule, methods=[method], error_renderer=render_error)(page)
