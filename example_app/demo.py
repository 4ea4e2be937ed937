"""Demo data for ``trylite demo``: a database, a person to log in as, their employee in a
company, and a few works of that company."""

from __future__ import annotations

import secrets

from sqlalchemy import inspect, select

from trylite import storage
from trylite.auth.persons import User
from trylite.exceptions import UserError
from trylite.model import Model
from trylite.pool import create_database, update_database
from trylite.transaction import Transaction

from .models import Company, Employee, Line, Work

WORKS = ('Customer support', 'Development', 'Documentation', 'Meetings')
COMPANY = 'Demo company'


def prepare(database_name: str = 'demo', login: str = 'demo') -> str:
    """Make *database_name* ready for the demo and return the new password of *login*.

    Creates the database (or adds missing tables to it), the person *login* with a fresh random
    password (a new one on every call), a company when there is none, an employee of the first
    company for *login* when they have none, and a few works of that company when there are
    none. A database whose example tables lack columns (made by an older example) is refused
    with a :class:`UserError` saying how to start afresh.
    """
    if storage.backend().exists(database_name):
        _check_columns(database_name)
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
        company = session.scalars(select(Company).order_by(Company.id)).first()
        if company is None:
            company = Company(name=COMPANY)
            session.add(company)
        session.flush()
        if session.scalars(select(Employee.id).where(Employee.user == person.id)).first() is None:
            session.add(Employee(name=person.name, user=person.id, company=company.id))
        if session.scalars(select(Work.id).limit(1)).first() is None:
            session.add_all(Work(name=name, company=company.id) for name in WORKS)
    return password


def _check_columns(database_name: str) -> None:
    """Refuse a database whose example tables miss some of the models' columns."""
    inspector = inspect(storage.backend().engine(database_name))
    for model in (Company, Employee, Work, Line):
        table = Model.metadata.tables[model.__tablename__]
        if not inspector.has_table(table.name):
            continue
        present = {column['name'] for column in inspector.get_columns(table.name)}
        if not {column.name for column in table.columns} <= present:
            raise UserError(
                f'The database {database_name} was made by an older example',
                f'drop it (trylite db drop {database_name} --yes) and run the demo again.')
