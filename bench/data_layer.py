"""The data layer's cost: ``search_read`` of 80 records with a many2one, through the layer vs
a hand-written SQLAlchemy query giving the same rows, in process, on PostgreSQL and SQLite.

    python -m bench.data_layer [--rounds N]     # from the repository root, with .venv/bin/python

Each call is a whole read-only transaction (as the bench's other cases are requests), run as
the system (user 0: no access checks) and as a person whose rights come from an access row
(the version check, the person's groups and the rules are part of the cost). Rounds of the
three alternate, so load from elsewhere on the machine drifts over all of them alike. The
ratio layer / hand-written is the figure; the goal is at most 1.5.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from trylite import storage
from trylite.auth.persons import User
from trylite.data.models import IrModel, IrModelAccess
from trylite.model import Model
from trylite.pool import Pool, create_database
from trylite.settings import Settings, configure
from trylite.transaction import Transaction

PG_URI = os.environ.get('TRYLITE_TEST_POSTGRESQL_URI',
                        'postgresql+psycopg://postgres@127.0.0.1:5432/')
DATABASE = 'bench_data_layer'
FIELDS = ['name', 'age', 'country_id']
GOAL = 1.5


class Country(Model):
    __model__ = 'bench.country'
    __tablename__ = 'bench_country'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Partner(Model):
    __model__ = 'bench.partner'
    __tablename__ = 'bench_partner'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    age: Mapped[int | None] = mapped_column(default=None)
    country_id: Mapped[int | None] = mapped_column(ForeignKey('bench_country.id'),
                                                   default=None)


Pool.register(Country, Partner, module='bench')

_hand_written = (select(Partner.id, Partner.name, Partner.age, Partner.country_id,
                        Country.name.label('country_name'))
                 .outerjoin(Country, Country.id == Partner.country_id)
                 .order_by(Partner.id).limit(80))


def hand_written() -> list[dict[str, Any]]:
    """What a route would write by hand: the same rows, in the same shape."""
    return [{'id': row.id, 'name': row.name, 'age': row.age if row.age is not None else False,
             'country_id': [row.country_id, row.country_name] if row.country_id else False,
             'display_name': row.name}
            for row in Transaction().session.execute(_hand_written)]


def through_the_layer() -> list[dict[str, Any]]:
    return Partner.search_read([], FIELDS, limit=80)


def prepare(uri: str) -> int:
    """A fresh database with 20 countries, 200 partners and a person allowed to read them;
    the person's id."""
    configure(Settings.load(environ={}).replace(database={'uri': uri}))
    backend = storage.backend()
    if backend.exists(DATABASE):
        backend.drop(DATABASE)
    create_database(DATABASE)
    with Transaction.start(DATABASE) as transaction:
        countries = Country.create([{'name': f'Country {i}'} for i in range(20)])
        Partner.create([{'name': f'Partner {i}', 'age': i % 90,
                         'country_id': countries[i % 20]} for i in range(200)])
        person = User(login='reader', name='Reader')
        transaction.session.add(person)
        transaction.session.flush()
        (model_id,) = IrModel.search([('model', '=', 'bench.partner')])
        IrModelAccess.create({'name': 'read', 'model_id': model_id, 'perm_read': True})
        (country_model,) = IrModel.search([('model', '=', 'bench.country')])
        IrModelAccess.create({'name': 'read', 'model_id': country_model, 'perm_read': True})
        return person.id


def timed(user: int, work: Callable[[], list[dict[str, Any]]], calls: int) -> float:
    """Microseconds per call, each call one read-only transaction."""
    start = time.perf_counter()
    for _ in range(calls):
        with Transaction.start(DATABASE, user, readonly=True):
            rows = work()
    elapsed = time.perf_counter() - start
    assert len(rows) == 80
    return elapsed / calls * 1e6


def measure(uri: str, rounds: int, calls: int) -> dict[str, float]:
    person = prepare(uri)
    with Transaction.start(DATABASE, 0, readonly=True):
        assert hand_written() == through_the_layer()  # the same answer
    runs: dict[str, list[float]] = {'hand-written': [], 'layer (system)': [],
                                    'layer (person)': []}
    for _ in range(rounds):
        runs['hand-written'].append(timed(0, hand_written, calls))
        runs['layer (system)'].append(timed(0, through_the_layer, calls))
        runs['layer (person)'].append(timed(person, through_the_layer, calls))
    storage.backend().drop(DATABASE)
    return {name: statistics.median(values) for name, values in runs.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog='python -m bench.data_layer', description=__doc__)
    parser.add_argument('--rounds', type=int, default=7)
    parser.add_argument('--calls', type=int, default=200, help='calls per round and case')
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        results = {'PostgreSQL': measure(PG_URI, options.rounds, options.calls),
                   'SQLite': measure(f'sqlite:///{folder}', options.rounds, options.calls)}
    print('| database | hand-written µs | layer (system) µs | ratio | layer (person) µs | '
          f'ratio | goal ≤ {GOAL} |')
    print('|---|---|---|---|---|---|---|')
    for database, figures in results.items():
        base = figures['hand-written']
        system, person = figures['layer (system)'], figures['layer (person)']
        met = 'met' if max(system, person) / base <= GOAL else 'not met'
        print(f'| {database} | {base:.0f} | {system:.0f} | {system / base:.2f} | '
              f'{person:.0f} | {person / base:.2f} | {met} |')


if __name__ == '__main__':
    main()
