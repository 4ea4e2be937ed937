"""The audit log: who did what to keys and logins, from where — never a secret.

Every event is one line on the logger ``trylite.audit``, the event's name then its fields::

    login.failed database='demo' login='alice' address='192.0.2.7'
    key.validated database='demo' key='a87022861a2e' person=3 address='192.0.2.7'

Values are written with ``repr``, so a login holding a line break cannot forge a line. The
same fields are on the record as ``record.audit`` (a dict with ``event`` too), for handlers
that write structured logs. A field is one of: ``database``; ``login`` (as the client sent
it), ``person`` (a ``res.user`` id) or ``key`` (a public id) for *who*; ``address`` (the
client's address) or ``by`` (``cli``) for *from where*; and details such as ``application``,
``reason`` or ``retry_after``. Keys, secrets, passwords and session tokens are never
arguments of :func:`record`.
"""

from __future__ import annotations

import logging

__all__ = ['logger', 'record']

logger = logging.getLogger('trylite.audit')


def record(event: str, level: int = logging.INFO, **fields: str | int | None) -> None:
    """Log *event* with *fields* (those that are ``None`` are left out)."""
    if not logger.isEnabledFor(level):
        return
    present = {name: value for name, value in fields.items() if value is not None}
    logger.log(level, '%s %s', event, ' '.join(f'{k}={v!r}' for k, v in present.items()),
               extra={'audit': {'event': event, **present}})
