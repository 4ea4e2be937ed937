"""Odoo's and Flectra's wire protocols, at the host root, as thin adapters over the data
layer's dispatcher: existing Odoo clients and scripts work against trylite with only the
address and credentials changed.

* :mod:`.json2` — Odoo 19's JSON-2, ``POST /json/2/<model>/<method>`` with a bearer API key;
* :mod:`.rpc` — the ``common``, ``object`` and ``db`` services over XML-RPC
  (``/xmlrpc/2/<service>``, ``/xmlrpc/<service>``) and JSON-RPC (``/jsonrpc``);
* :mod:`.web` — the ``/web`` endpoints odooly and odoorpc use (version, database list, web
  sessions, ``call_kw``);
* :mod:`.doc` — ``/doc-bearer/<model>.json`` and ``/doc/<model>.json``.

What they share — the version trylite speaks, who calls, Odoo's habits turned into one
dispatcher call — is :mod:`.calls`; how errors look on each wire is :mod:`.errors`;
XML-RPC's reading and writing is :mod:`.wire`. Which database a request works on:
:mod:`trylite.protocols.databases`. ``docs/protocols.md`` shows a session per protocol.
"""

from __future__ import annotations

from ...web.app import TryliteWSGI
from . import doc, json2, rpc, web

__all__ = ['install']


def install(app: TryliteWSGI) -> None:
    """Add every Odoo protocol to *app* (``trylite.wsgi`` does so for its ``app``)."""
    json2.install(app)
    rpc.install(app)
    web.install(app)
    doc.install(app)
