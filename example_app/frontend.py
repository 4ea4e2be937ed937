"""The timesheet's browser front end: the files of ``example_app/static`` under ``/timesheet/``.

``/timesheet/`` is ``index.html``; ``/timesheet/<name>`` is the file *name* of that folder, as
listed when the module was imported — any other name is 404, so no path can leave the folder.
Pages get a Content-Security-Policy that only allows the app's own scripts, styles and calls.
"""

from __future__ import annotations

from pathlib import Path

from werkzeug.exceptions import NotFound
from werkzeug.utils import send_file
from werkzeug.wrappers import Response

from trylite.wsgi import Request, app

STATIC = Path(__file__).resolve().parent / 'static'
#: Content types by suffix; files of other kinds are not served.
CONTENT_TYPES = {
    '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css',
    '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json',
}
FILES = {path.name: path for path in STATIC.iterdir()
         if path.is_file() and path.suffix in CONTENT_TYPES}
SECURITY_HEADERS = {
    'Content-Security-Policy': "default-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
}


@app.route('/timesheet/', methods=['GET'], defaults={'name': 'index.html'})
@app.route('/timesheet/<name>', methods=['GET'])
def static_file(request: Request, name: str) -> Response:
    """A file of the front end, revalidated by the browser on every load (ETag)."""
    path = FILES.get(name)
    if path is None:
        raise NotFound()
    response = send_file(path, request.environ, mimetype=CONTENT_TYPES[path.suffix],
                         max_age=0)
    response.headers.update(SECURITY_HEADERS)
    return response
