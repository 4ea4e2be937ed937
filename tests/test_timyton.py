"""Timyton — Tryton's console timesheet client, installed from PyPI (``timyton==0.1.0``, the
``test`` extra) — unmodified against ``trylite serve`` with the example app, on SQLite and
PostgreSQL.

The database is set up with the README's command (``trylite demo --database DB --login nicoe
--no-serve``: Timyton 0.1.0 asks for a key for the login ``nicoe`` whatever its user types).
Timyton's own Preferences screen asks for the key (its Register button, in Textual's headless
test mode) and revokes it (Reset); its data layer lists employees and works, fetches lines and
synchronises created, edited and deleted ones. Timyton keeps its configuration and cache in the
XDG folders, temporary here. The database is checked after every step: each change arrived,
exactly once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import importlib
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from example_app import demo
from example_app.models import Employee, Line, Work
from tests.conftest import ROOT, missing
from tests.helpers import invoke, validate
from trylite.auth.keys import UserApplication
from trylite.auth.persons import User
from trylite.transaction import Transaction

#: Timyton's data module registers sqlite3 adapters and converters when imported; they are put
#: back as they were after each test.
PRISTINE = dict(sqlite3.adapters), dict(sqlite3.converters)
DAY = datetime.date(2026, 11, 22)
LOGIN = 'nicoe'  # the login Timyton 0.1.0 always asks a key for
README_SECTION = "## Use Tryton's clients"


@pytest.fixture
def timyton(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``timyton.data``, with its configuration and cache in temporary XDG folders."""
    try:
        importlib.import_module('timyton.data')
    except ImportError:
        missing('timyton is not installed (pip install -e ".[test]")')
    monkeypatch.setenv('XDG_CONFIG_HOME', str(tmp_path / 'config'))
    monkeypatch.setenv('XDG_DATA_HOME', str(tmp_path / 'data'))
    yield importlib.reload(sys.modules['timyton.data'])  # its adapters, for this test
    for registry, before in zip((sqlite3.adapters, sqlite3.converters), PRISTINE, strict=True):
        registry.clear()
        registry.update(before)


def readme_commands() -> list[str]:
    """The commands of the README's "Use Tryton's clients" section, comments left out."""
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    section = readme[readme.index(README_SECTION):]
    start = section.index('```sh\n') + 6
    block = section[start:section.index('\n```', start)]
    return [line.split('#')[0].strip() for line in block.splitlines()]


def readme_demo_command(database: str) -> list[str]:
    """The README's ``./scripts/demo …`` (= ``trylite demo …``) arguments, on *database*."""
    [command] = [line for line in readme_commands() if line.startswith('./scripts/demo ')]
    args = command.split()[1:]
    args[args.index('--database') + 1] = database
    return ['demo', *args]


def in_preferences(timyton: ModuleType,
                   step: Callable[[Any, Any], Coroutine[Any, Any, None]]) -> None:
    """Open Timyton's Preferences screen (Textual, headless) and run ``step(pilot, screen)``."""
    from textual.app import App
    from timyton.app import Preferences

    class Host(App[None]):
        """A bare Textual app showing Timyton's Preferences screen."""

        def on_mount(self) -> None:
            self.push_screen(Preferences(timyton.load_config()))

    async def run() -> None:
        host = Host()
        async with host.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await step(pilot, host.screen)

    asyncio.run(run())


async def until(pilot: Any, done: Callable[[], bool], what: str) -> None:
    """Let Timyton run until *done()* (10 s at most)."""
    for _ in range(500):
        if done():
            return
        await pilot.pause(0.02)
    raise AssertionError(f'Timyton never {what}')


def press(timyton: ModuleType, button: str, done: Callable[[], bool]) -> None:
    """Click *button* of Timyton's Preferences screen, as its user does, and wait until
    *done()*."""
    async def step(pilot: Any, screen: Any) -> None:
        await until(pilot, lambda: not screen.query_one(f'#{button}').disabled,
                    f'enabled {button}')
        await pilot.click(f'#{button}')
        await until(pilot, done, f'finished {button}')
    in_preferences(timyton, step)


def choose_employee(timyton: ModuleType, employee: int) -> None:
    """Choose *employee* in Timyton's Preferences screen once it lists it."""
    from textual.widgets import Select
    from textual.widgets.select import InvalidSelectValueError

    async def step(pilot: Any, screen: Any) -> None:
        def chosen() -> bool:
            try:
                screen.query_one('#employee', Select).value = employee
            except InvalidSelectValueError:  # not listed yet
                return False
            return True
        await until(pilot, chosen, 'listed the employee')
        await until(pilot, lambda: timyton.load_config().employee == employee,
                    'saved the employee')
    in_preferences(timyton, step)


def lines_in(db: str) -> list[tuple[Any, ...]]:
    with Transaction.start(db, readonly=True) as transaction:
        return [(line.id, line.work, line.date, line.duration, line.description, line.uuid)
                for line in transaction.session.scalars(select(Line).order_by(Line.id))]


def keys_in(db: str) -> int:
    with Transaction.start(db, readonly=True) as transaction:
        return len(transaction.session.scalars(select(UserApplication)).all())


def test_timyton_books_time_on_trylite(db, start_server, timyton, monkeypatch):
    result = invoke(*readme_demo_command(db))
    assert result.exit_code == 0, result.output
    base = start_server(workers=1)
    config = timyton.save_config(timyton.Config(address=base, database=db, username=LOGIN))

    # Timyton's Register button: a key for "nicoe", validated by its person.
    press(timyton, 'register', lambda: bool(timyton.load_config().app_key))
    config = timyton.load_config()
    assert config.app_key.startswith('trylite_') and keys_in(db) == 1
    validate(db, config.app_key)

    with Transaction.start(db, readonly=True) as transaction:
        session = transaction.session
        person = session.scalars(select(User).where(User.login == LOGIN)).one()
        employee = session.scalars(select(Employee)).one()
        works = {work.name: work.id for work in session.scalars(select(Work))}
    choose_employee(timyton, employee.id)  # listed once the key is validated
    config = timyton.load_config()
    assert asyncio.run(timyton.get_employees(config)) == [  # cached by the screen
        timyton.Employee(id=employee.id, name=employee.name)]
    assert asyncio.run(timyton.get_works(config)) == [
        timyton.Work(id=works[name], name=name, start=None, end=None)
        for name in sorted(demo.WORKS, key=str.lower)]

    # A line booked elsewhere, which Timyton fetches and edits.
    with Transaction.start(db) as transaction:
        booked = Line(user=person.id, employee=employee.id, work=works['Meetings'], date=DAY,
                      duration=1800, description='booked elsewhere')
        transaction.session.add(booked)
        transaction.session.flush()
        booked_id = booked.id
    [fetched] = asyncio.run(timyton.get_timesheet_lines(config, DAY))
    assert fetched == timyton.TimesheetLine(
        id=booked_id, work=works['Meetings'], work_name='Meetings', date=DAY,
        duration=datetime.timedelta(minutes=30), description='booked elsewhere')

    # Created and edited in Timyton; the answer to the create is lost, so Timyton sends it
    # again at the next synchronisation: still one line.
    created = timyton.TimesheetLine(
        id=timyton.get_line_id(), work=works['Development'], work_name='Development', date=DAY,
        duration=datetime.timedelta(minutes=90), description='new', uuid=str(uuid.uuid4()),
        dirty=True)
    timyton.save_timesheet_line(created)
    timyton.save_timesheet_line(dataclasses.replace(
        fetched, duration=datetime.timedelta(hours=2), description='edited', dirty=True))
    real_post = httpx.AsyncClient.post

    async def post_and_lose_the_answer(self: httpx.AsyncClient, *args: Any, **kwargs: Any
                                       ) -> httpx.Response:
        monkeypatch.setattr(httpx.AsyncClient, 'post', real_post)
        await real_post(self, *args, **kwargs)
        raise httpx.ReadError('the connection dropped before the answer arrived')

    monkeypatch.setattr(httpx.AsyncClient, 'post', post_and_lose_the_answer)
    with pytest.raises(httpx.ReadError):
        asyncio.run(timyton.synchronise_lines(config))
    assert len(lines_in(db)) == 2  # the create arrived
    asyncio.run(timyton.synchronise_lines(config))
    [edited, new] = lines_in(db)
    assert edited == (booked_id, works['Meetings'], DAY, 7200, 'edited', None)
    assert new[1:] == (works['Development'], DAY, 5400, 'new', created.uuid)

    # Edited again (Timyton now knows its id), then the other line deleted.
    timyton.save_timesheet_line(dataclasses.replace(
        created, id=new[0], description='new, edited', dirty=True))
    asyncio.run(timyton.synchronise_lines(config))
    timyton.delete_timesheet_line(booked_id)
    asyncio.run(timyton.synchronise_lines(config))
    assert lines_in(db) == [(new[0], works['Development'], DAY, 5400, 'new, edited',
                             created.uuid)]

    # Timyton's Reset button revokes the key.
    press(timyton, 'reset', lambda: keys_in(db) == 0)


def test_readme_section_names_the_tested_commands():
    """The section's commands are the ones the test above runs: the demo set-up for
    ``nicoe`` without serving, the example served by ``trylite serve``, and the Timyton this
    suite installs."""
    demo_args = readme_demo_command('DB')
    assert demo_args[demo_args.index('--login') + 1] == LOGIN and '--no-serve' in demo_args
    commands = readme_commands()
    assert '.venv/bin/trylite serve --module example_app' in commands
    pinned = re.search(r'timyton==[0-9.]+', (ROOT / 'setup.cfg').read_text(encoding='utf-8'))
    assert pinned and any(pinned.group() in command for command in commands)


def test_readme_set_up_command_as_written(tmp_path):
    """The section's first command, run as written, on a fresh SQLite folder: it sets the
    database up for ``nicoe``, prints the password and exits."""
    [command] = [line for line in readme_commands() if line.startswith('./scripts/demo ')]
    env = {**os.environ, 'TRYLITE_DATABASE__URI': f'sqlite:///{tmp_path}'}
    env.pop('TRYLITE_CONFIG', None)
    done = subprocess.run(command.split(), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'Login        nicoe' in done.stdout
    assert re.search(r'Password     \S{8,}', done.stdout)
