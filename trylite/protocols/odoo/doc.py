"""Odoo 19's model documents: ``GET /doc-bearer/<model>.json`` (with a bearer API key, the
database named as for JSON-2) and ``GET /doc/<model>.json`` (on a web session).

The document describes the model as its caller may see it — odoo-client-lib and odooly read
it to turn positional arguments into JSON-2's named ones::

    {"model": "test.partner", "name": "A partner", "doc": "...",
     "fields": {"name": {"name": "name", "type": "char", ...}, ...},     # fields_get
     "methods": {"search": {"signature": "(domain=(), offset=0, ...)",
                            "parameters": {"domain": {"name": "domain", "default": []}, ...},
                            "api": ["model", "readonly"], "doc": "...",
                            "model": "test.partner", "module": "..."}, ...}}

``parameters`` are in order, without the records' ids (which JSON-2 sends as ``ids``);
``api`` holds ``"model"`` for methods called without ids and ``"readonly"`` for those that
only read. The methods are the generic record methods and those marked ``@rpc``. Reading the
fields goes through the dispatcher, so the caller needs read access to the model; every error
is JSON-2's (a non-empty JSON body, whatever the status).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ...data import records
from ...data.dispatch import GENERIC, Caller, method_spec
from ...data.rpc import RPC
from ...pool import Pool
from ...web.app import TryliteWSGI
from ...web.request import Request
from ...web.responses import Response, json_response
from ..databases import choose
from . import calls, web
from .errors import render_json2

__all__ = ['describe', 'install']

_KINDS_SHOWN = {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL,
                inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD}


def _plain(value: Any) -> bool:
    """Whether a default value can be shown as JSON."""
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, str | int | float | bool)


def _method(model: str, function: Callable[..., Any], skip: int, spec: RPC) -> dict[str, Any]:
    """The description of one method; *skip* leading parameters are not the caller's."""
    found = list(inspect.signature(function).parameters.values())[skip:]
    if not spec.model:
        found = found[1:]  # the records' ids
    parameters: dict[str, dict[str, Any]] = {}
    for parameter in found:
        described: dict[str, Any] = {'name': parameter.name}
        if parameter.kind in _KINDS_SHOWN:
            described['kind'] = parameter.kind.name
        if parameter.default is not inspect.Parameter.empty and _plain(parameter.default):
            described['default'] = parameter.default
        parameters[parameter.name] = described
    api = [name for name, on in (('model', spec.model), ('readonly', spec.readonly)) if on]
    return {'signature': f'({", ".join(p.name for p in found)})', 'parameters': parameters,
            'api': api, 'doc': inspect.getdoc(function), 'model': model,
            'module': getattr(function, '__module__', None) or 'core'}


def describe(database: str, caller: Caller, model: str) -> dict[str, Any]:
    """The document of *model* for *caller* (see the module doc)."""
    fields = calls.execute(database, caller, model, 'fields_get')
    name = calls.MODEL_ALIASES.get(model, model)
    cls = Pool.models().get(name)
    methods: dict[str, dict[str, Any]] = {}
    if cls is None:  # a model made at run time: the generic methods, on the model's name
        for method, spec in GENERIC.items():
            methods[method] = _method(name, getattr(records, method), 2, spec)
    else:
        for method in sorted(set(GENERIC) | set(dir(cls))):
            marked = method_spec(name, method)
            if marked is not None:
                methods[method] = _method(name, getattr(cls, method), 0, marked)
    doc = inspect.getdoc(cls) if cls is not None else None
    return {'model': model, 'name': (doc or name).splitlines()[0], 'doc': doc,
            'fields': {key: {'name': key, **value} for key, value in fields.items()},
            'methods': methods}


def _answer(document: dict[str, Any]) -> Response:
    return json_response(document, headers=[('Cache-Control', 'private, no-cache')])


def bearer_doc(request: Request, model: str) -> Response:
    """``/doc-bearer/<model>.json``."""
    caller = calls.key_caller(calls.bearer_token(request), request.remote_addr)
    return _answer(describe(choose(request), caller, model))


def session_doc(request: Request, model: str) -> Response:
    """``/doc/<model>.json``."""
    database, token = web.logged_in(request)
    return _answer(describe(choose(request, database), calls.session_caller(token), model))


def install(app: TryliteWSGI) -> None:
    """Add the model documents to *app*."""
    app.route('/doc-bearer/<model>.json', methods=['GET'], error_renderer=render_json2)(
        bearer_doc)
    app.route('/doc/<model>.json', methods=['GET'], error_renderer=render_json2)(session_doc)
