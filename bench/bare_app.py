"""Bare Werkzeug baseline: answers ``ok`` and echoes JSON, nothing else."""

import json

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Request, Response


@Request.application
def app(request: Request) -> Response:
    """WSGI callable for gunicorn: ``/bench/nodb`` and ``/bench/echo``."""
    if request.path == '/bench/nodb':
        return Response('ok')
    if request.path == '/bench/echo' and request.method == 'POST':
        return Response(json.dumps(request.get_json()), content_type='application/json')
    return NotFound()
