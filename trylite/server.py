"""Serving :data:`trylite.wsgi.app`: gunicorn in production, Werkzeug's reloader for development.

``trylite serve`` runs gunicorn's *gthread* workers: each worker process serves ``threads``
requests at once, so a slow or stalled client holds one thread, not a whole worker, and for at
most ``[web] client_timeout`` seconds of silence; a worker process unresponsive for ``[web]
timeout`` seconds (or killed) is replaced by the master. Routes
and models are imported in the master before the workers fork; database pools are made in each
worker after the fork.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import socket
import struct
import sys
from collections.abc import Iterable
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

from . import storage
from .exceptions import TryliteError
from .settings import current
from .wsgi import app


def load_modules(modules: Iterable[str] = ()) -> list[str]:
    """Import ``[app] modules`` and *modules* (their routes and models register themselves).

    Modules are looked up in the current directory too, as ``python -m`` would.
    """
    names = [*current().app.modules, *modules]
    if names and os.getcwd() not in sys.path and '' not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise TryliteError(f'cannot import module {name!r}: {exc}') from None
    return names


def check_port(host: str, port: int) -> None:
    """Fail with a clear message if *host*:*port* cannot be bound."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise TryliteError(f'port {port} on {host} is already in use') from None
            raise TryliteError(f'cannot listen on {host}:{port}: {exc.strerror}') from None


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured from trylite's options instead of its command line."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return app


def _post_fork(server: Any, worker: Any) -> None:
    storage.reset()
    set_client_timeout(worker.sockets, current().web.client_timeout)


def set_client_timeout(listeners: Iterable[Any], seconds: float) -> None:
    """Make a blocking read of a client socket fail after *seconds* without data.

    Set as ``SO_RCVTIMEO`` on the listening sockets, which accepted sockets inherit: a
    worker thread reading the headers or the body of a stalled client gets an error instead
    of waiting for ever (gunicorn then closes the connection; a body read answers 400).
    """
    if seconds <= 0:
        return
    value = struct.pack('ll', int(seconds), int(seconds % 1 * 1_000_000))
    for listener in listeners:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)


def serve(host: str, port: int, workers: int, threads: int, dev: bool = False) -> None:
    """Serve until interrupted."""
    if os.environ.get('WERKZEUG_RUN_MAIN') != 'true':  # the reloader's child: socket inherited
        check_port(host, port)
    logging.basicConfig(level=logging.INFO,
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    if dev:
        from werkzeug.serving import run_simple

        run_simple(host, port, app, use_reloader=True, threaded=True)
        return
    GunicornServer({
        'bind': f'[{host}]:{port}' if ':' in host else f'{host}:{port}',
        'workers': workers,
        'worker_class': 'gthread',
        'threads': threads,
        'timeout': current().web.timeout,
        'graceful_timeout': 10,
        'keepalive': 5,
        'preload_app': True,
        'post_fork': _post_fork,
        'proc_name': 'trylite',
    }).run()
