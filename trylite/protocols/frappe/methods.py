"""Frappe's methods: ``/api/method/<name>`` and the legacy ``cmd=`` form on the site's base URL.

``GET`` or ``POST /api/method/<name>`` (a trailing slash is accepted), ``POST /`` with a form
``cmd=<name>&…`` and ``GET /?cmd=<name>&…`` call the same methods and answer ``{"message":
result}``:

* ``<model>.<method>`` — a generic record method or one the model marks ``@rpc``
  (``test.partner.total_age``), with the parameters as named arguments (form and query values
  that are valid JSON are read as JSON; a JSON body is taken as it is);
* ``frappe.client.get``, ``get_list``, ``get_count``, ``get_value``, ``insert``, ``save``,
  ``set_value``, ``delete`` and ``rename_doc`` — the calls Frappe's client libraries make
  (``rename_doc`` changes the document's title, see :mod:`.documents`; its name, the id,
  never changes);
* ``login``, ``logout``, ``frappe.auth.get_logged_user`` (:mod:`.auth`) and ``ping``.

Methods that only read answer ``GET`` and ``POST``; the others ``POST`` only: a ``GET`` of a
method that writes is a 405 with ``Allow: POST`` (a GET never writes, so a session cookie
followed by a link cannot change anything). Unknown methods are 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import BadRequest, MethodNotAllowed, NotFound

from ...data.dispatch import method_spec
from ...exceptions import MethodNotFound
from ...pool import Pool
from ...web.app import TryliteWSGI
from ...web.request import Request
from ...web.responses import Response
from ...wrappers import with_pool
from . import auth, documents
from .errors import render
from .site import decoded, json_param, params, route, text_param

__all__ = ['CLIENT', 'call', 'install']

#: ``function(request, pool, parameters) -> result``.
Method = Callable[[Request, Pool, dict[str, Any]], Any]


def _doctype(found: dict[str, Any]) -> str:
    return text_param(found, 'doctype')


def _document(found: dict[str, Any], key: str) -> dict[str, Any]:
    doc = json_param(found, key)
    if not isinstance(doc, dict) or not isinstance(doc.get('doctype'), str):
        raise BadRequest(f'The parameter {key!r} must be a JSON object with a doctype.')
    return doc


def _name(found: dict[str, Any], key: str = 'name') -> Any:
    value = found.get(key)
    if value is None:
        raise BadRequest(f'The parameter {key!r} is required.')
    return value


def client_get(request: Request, pool: Pool, found: dict[str, Any]) -> Any:
    """``frappe.client.get(doctype, name=None, filters=None)``: one document."""
    model = _doctype(found)
    if found.get('name') not in (None, ''):
        return documents.get(request, pool, model, found['name'])
    return documents.get_by_filters(request, pool, model, json_param(found, 'filters'))


def client_get_list(request: Request, pool: Pool, found: dict[str, Any]) -> Any:
    """``frappe.client.get_list(doctype, fields, filters, or_filters, order_by, limit_start,
    limit_page_length, as_dict=True)``: a page of documents (of lists with ``as_dict=0``)."""
    listing = documents.Listing(_doctype(found), found, ('limit_start',),
                                ('limit_page_length', 'limit'))
    rows = documents.search(request, pool, listing)
    if json_param(found, 'as_dict', True) in (False, 0):
        return [list(row.values()) for row in rows]
    return rows


def client_get_count(request: Request, pool: Pool, found: dict[str, Any]) -> Any:
    """``frappe.client.get_count(doctype, filters=None)``."""
    model = _doctype(found)
    return documents.count(request, pool, model, documents.domain(
        model, json_param(found, 'filters'), json_param(found, 'or_filters')))


def client_get_value(request: Request, pool: Pool, found: dict[str, Any]) -> Any:
    """``frappe.client.get_value(doctype, fieldname='name', filters=None)``: ``{field:
    value}`` of the first match (*filters* may be a document's name), ``None`` without."""
    model = _doctype(found)
    wanted = decoded(found.get('fieldname') or 'name')
    filters = decoded(found.get('filters'))
    if not isinstance(filters, dict | list) and filters not in (None, ''):
        filters = {'name': filters}
    fields = [wanted] if isinstance(wanted, str) else wanted
    listing = documents.Listing(model, {'fields': fields, 'filters': filters,
                                        'limit_page_length': 1}, (), ('limit_page_length',))
    rows = documents.search(request, pool, listing)
    if not rows:
        return None
    return {key: rows[0].get(key) for key in listing.keys or rows[0]}


def client_insert(request: Request, pool: Pool, found: dict[str, Any]) -> Any:
    """``frappe.client.insert(doc)``: the document created."""
    doc = _document(found, 'doc')
    return documents.insert(request, pool, doc['doctype'], doc)


def client_save(request: Request, pool: Pool, found: dict[str, Any]) -> Any:
    """``frappe.client.save(doc)``: the document changed (``doc`` carries its name)."""
    doc = _document(found, 'doc')
    return documents.update(request, pool, doc['doctype'], _name(doc), doc)


def client_set_value(request: Request, pool: Pool, found: dict[str, Any]) -> Any:
    """``frappe.client.set_value(doctype, name, fieldname, value=None)``: *fieldname* is a
    field, or an object of values."""
    fieldname = decoded(found.get('fieldname'))
    values = fieldname if isinstance(fieldname, dict) else {
        text_param(found, 'fieldname'): decoded(found.get('value'))}
    return documents.update(request, pool, _doctype(found), _name(found), values)


def client_delete(request: Request, pool: Pool, found: dict[str, Any]) -> Any:
    """``frappe.client.delete(doctype, name)``."""
    documents.delete(request, pool, _doctype(found), _name(found))
    return None


def client_rename_doc(request: Request, pool: Pool, found: dict[str, Any]) -> Any:
    """``frappe.client.rename_doc(doctype, old_name, new_name)``: the document's title becomes
    *new_name*; its name (the id) is answered, unchanged."""
    model = _doctype(found)
    document = documents.update(request, pool, model, _name(found, 'old_name'),
                                {'title': text_param(found, 'new_name')})
    return document['name']


#: ``frappe.client.<name>``: (only reads, function).
CLIENT: dict[str, tuple[bool, Method]] = {
    'get': (True, client_get),
    'get_list': (True, client_get_list),
    'get_count': (True, client_get_count),
    'get_value': (True, client_get_value),
    'insert': (False, client_insert),
    'save': (False, client_save),
    'set_value': (False, client_set_value),
    'delete': (False, client_delete),
    'rename_doc': (False, client_rename_doc),
}

#: Methods of the site itself: (only reads, function).
SITE: dict[str, tuple[bool, Method]] = {
    'login': (False, lambda request, pool, found: auth.log_in(request, pool, found)),
    'frappe.auth.get_logged_user': (True, lambda request, pool, found: auth.logged_user(
        request, pool)),
    'ping': (True, lambda request, pool, found: 'pong'),
}


def _model_method(name: str) -> tuple[bool | None, Method]:
    """``<model>.<method>``: whether it only reads (``None``: unknown yet), and its call."""
    model, _, method = name.rpartition('.')
    if not model:
        raise MethodNotFound(f'There is no method {name!r}.')
    spec = method_spec(model, method)

    def run(request: Request, pool: Pool, found: dict[str, Any]) -> Any:
        arguments = {key: decoded(value) for key, value in found.items()} if (
            request.mimetype != 'application/json') else found
        return documents.execute(request, pool, model, method, [], arguments)
    return (spec.readonly if spec is not None else None), run


def call(request: Request, pool: Pool, name: str) -> Any:
    """Call the method *name* with the request's parameters (see the module doc)."""
    if name == 'logout':
        return auth.log_out(request, pool)
    readonly: bool | None
    if name in SITE:
        readonly, function = SITE[name]
    elif name.startswith('frappe.client.'):
        if name[len('frappe.client.'):] not in CLIENT:
            raise MethodNotFound(f'{name} is not supported here (supported: '
                                 f'{", ".join("frappe.client." + m for m in CLIENT)}).')
        readonly, function = CLIENT[name[len('frappe.client.'):]]
    else:
        readonly, function = _model_method(name)
    if request.method in ('GET', 'HEAD') and readonly is False:
        raise MethodNotAllowed(['POST'], f'{name} changes data: call it with POST.')
    result = function(request, pool, params(request))
    return result if isinstance(result, Response) else {'message': result}


def method(request: Request, pool: Pool, name: str) -> Any:
    """``/api/method/<name>``."""
    return call(request, pool, name)


def command(request: Request, pool: Pool) -> Any:
    """The legacy ``cmd=<name>`` form on the site's base URL (404 without ``cmd``)."""
    name = request.args.get('cmd') or (request.form.get('cmd') if request.method == 'POST'
                                       else None)
    if not name:
        raise NotFound('Call a method with cmd=<method>, or use /api/method/<method>.')
    return call(request, pool, name)


def install(app: TryliteWSGI) -> None:
    """Add the method routes and the ``cmd=`` form (under ``/<db>`` and at the host root)."""
    route(app, '/api/method/<name>', ['GET', 'POST'], method)
    route(app, '/api/method/<name>/', ['GET', 'POST'], method)
    route(app, '/', ['GET', 'POST'], command)
    app.route('/<database_name>', ['GET', 'POST'], error_renderer=render)(with_pool(command))
