"""Demo data for ``trylite demo``: a database, a person to log in as and a few works."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from trylite import storage
from trylite.auth.persons import User
from trylite.pool import create_database, update_database
from trylite.transaction import Transaction

from .models import Work

WORKS = ('Customer support', 'Development', 'Documentation', 'Meetings')


def prepare(database_name: str = 'demo', login: str = 'demo') -> str:
    """Make *database_name* ready for the demo and return the new password of *login*.

    Creates the database (or adds missing tables to it), the person *login* with a fresh random
    password (a new one on every call), and a few works when there are none.
    """
    if storage.backend().exists(database_name):
        update_database(database_name)
    else:
        create_database(database_name)
    password = secrets.token_urlsafe(9)
    with Transaction.start(database_name, 0) as transaction:
        session = transaction.session
        person = session.scalars(select(User).where(User.login == login)).first()
        if person is None:
            person = User(login=login, name='Demo person')
            session.add(person)
        person.active = True
        person.set_password(password)
        if session.scalars(select(Work.id).limit(1)).first() is None:
            session.add_all(Work(name=name) for name in WORKS)
    return password
