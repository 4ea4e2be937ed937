"""Frappe's and Dodock's REST API over the data layer.

A site is ``http://host/<db>`` (every path below under it; at the host root, the database is
chosen as for the Odoo protocols): ``/api/resource`` and ``/api/v2/document``
(:mod:`.resources`), ``/api/method`` and the legacy ``cmd=`` form (:mod:`.methods`),
``upload_file`` and the files (:mod:`.upload`). Who calls: :mod:`.auth`; how documents, names
and filters map to records and domains: :mod:`.documents`, :mod:`.filters`; errors:
:mod:`.errors`. A thin adapter: every call goes through
:func:`trylite.data.dispatch.execute_as`, whose access checks, transactions and errors apply.
"""

from __future__ import annotations

from ...web.app import TryliteWSGI
from . import methods, resources, upload

__all__ = ['install']


def install(app: TryliteWSGI) -> None:
    """Add the Frappe API's routes to *app*."""
    upload.install(app)
    resources.install(app)
    methods.install(app)
