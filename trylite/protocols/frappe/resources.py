"""Frappe's REST resources: ``/api/resource`` (v1) and ``/api/v2/document`` (v2).

======================================================  ==========================================
``GET /api/resource/<model>``                           ``{"data": [documents]}``
``POST /api/resource/<model>``                          ``{"data": document}`` (created)
``GET /api/resource/<model>/<name>``                    ``{"data": document}``
``PUT /api/resource/<model>/<name>``                    ``{"data": document}`` (changed)
``DELETE /api/resource/<model>/<name>``                 202 ``{"data": "ok"}``
``GET /api/v2/document/<model>``                        ``{"data": [...], "has_next_page": bool}``
                                                        (``"count"`` with ``include=count``)
``POST``, ``GET``, ``PUT``/``PATCH``, ``DELETE``        as v1
``/api/v2/document/<model>[/<name>]``
======================================================  ==========================================

Lists take ``fields`` (a JSON list, ``["*"]``, or the JSON string ``"*"``), ``filters`` and
``or_filters`` (:mod:`.filters`), ``order_by``, and the page: ``limit_start`` and
``limit_page_length`` (or ``limit``) in v1, ``start`` and ``limit`` in v2 — 20 by default, cut
to ``[api] max_limit``, and 0 means that maximum, never "everything". A document is written
from a JSON object body or from a form field ``data`` holding one (:mod:`.documents` says how
names and fields map). Answers carry ``data``, never ``message`` (clients read ``message``
first).
"""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import BadRequest

from ... import json as json_module
from ...pool import Pool
from ...settings import current
from ...web.app import TryliteWSGI
from ...web.request import Request
from ...web.responses import json_response
from . import documents
from .site import params, route

__all__ = ['install']

_V1_PAGE = (('limit_start',), ('limit_page_length', 'limit'))
_V2_PAGE = (('start', 'limit_start'), ('limit', 'limit_page_length'))


def _body(request: Request) -> Any:
    """The written document: a form field ``data`` holding JSON, else the JSON body."""
    if request.mimetype != 'application/json':
        data = request.form.get('data')
        if data is not None:
            try:
                return json_module.loads(data)
            except ValueError:
                raise BadRequest("The form field 'data' is not valid JSON.") from None
    try:
        return json_module.loads(request.get_data())
    except ValueError:
        raise BadRequest('Send the document as a JSON body or in a form field '
                         "'data'.") from None


def collection(request: Request, pool: Pool, model: str) -> Any:
    """v1: list (GET) or create (POST)."""
    if request.method == 'POST':
        return {'data': documents.insert(request, pool, model, _body(request))}
    listing = documents.Listing(model, params(request), *_V1_PAGE)
    return {'data': documents.search(request, pool, listing)}


def document(request: Request, pool: Pool, model: str, name: str) -> Any:
    """v1 and v2: read (GET), change (PUT, PATCH) or delete (DELETE) one document."""
    if request.method == 'DELETE':
        documents.delete(request, pool, model, name)
        return json_response({'data': 'ok'}, 202)
    if request.method in ('PUT', 'PATCH'):
        return {'data': documents.update(request, pool, model, name, _body(request))}
    return {'data': documents.get(request, pool, model, name)}


def collection_v2(request: Request, pool: Pool, model: str) -> Any:
    """v2: list with ``has_next_page`` (and ``count`` with ``include=count``), or create."""
    if request.method == 'POST':
        return {'data': documents.insert(request, pool, model, _body(request))}
    found = params(request)
    listing = documents.Listing(model, found, *_V2_PAGE)
    whole = None
    if listing.limit < current().api.max_limit:
        rows = documents.search(request, pool, listing, extra=1)
        more = len(rows) > listing.limit
        rows = rows[:listing.limit]
    else:  # one more row than the maximum cannot be read: count instead
        rows = documents.search(request, pool, listing)
        whole = documents.count(request, pool, model, listing.domain)
        more = listing.start + len(rows) < whole
    answer: dict[str, Any] = {'data': rows, 'has_next_page': more}
    if 'count' in str(found.get('include', '')).split(','):
        answer['count'] = whole if whole is not None else documents.count(
            request, pool, model, listing.domain)
    return answer


def install(app: TryliteWSGI) -> None:
    """Add the resource routes (under ``/<db>`` and at the host root)."""
    route(app, '/api/resource/<model>', ['GET', 'POST'], collection)
    route(app, '/api/resource/<model>/<name>', ['GET', 'PUT', 'DELETE'], document)
    route(app, '/api/v2/document/<model>', ['GET', 'POST'], collection_v2)
    route(app, '/api/v2/document/<model>/<name>', ['GET', 'PUT', 'PATCH', 'DELETE'], document)

