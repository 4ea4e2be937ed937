"""Endpoints defined as data: ``endpoint.endpoint`` records served under
``/<db>/api/endpoint/…`` (see docs/endpoints.md).

This package's ``__init__`` imports nothing: the sandbox's zygote process imports
:mod:`.sandbox` alone. :func:`install` adds the routes and the admin page to an app, and the
endpoints to its OpenAPI document; :func:`active_endpoints` describes a database's endpoints
(for API documents).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..web.app import TryliteWSGI

__all__ = ['active_endpoints', 'install']


def install(app: TryliteWSGI) -> None:
    """Add the endpoint routes and the endpoints admin page to *app*."""
    from . import openapi, pages, serving  # noqa: F401  (openapi: a document contributor)

    serving.install(app)
    pages.install(app)


def active_endpoints(database_name: str) -> list[dict[str, Any]]:
    """The active endpoints of *database_name*, described (see
    :func:`trylite.endpoints.catalog.active_endpoints`)."""
    from . import catalog

    return catalog.active_endpoints(database_name)
