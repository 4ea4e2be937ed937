"""The ``trylite`` command.

Mistakes (unknown database, bad URI, port in use, duplicate login, …) print one line starting
with ``Error:`` and exit with status 1 — never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import yaml
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from . import __version__, server, storage
from . import json as json_module
from .auth import apikeys
from .auth.keys import ACTIONS, act, keys_of
from .auth.persons import User, make_admin
from .auth.tokens import PERSONAL_PREFIX, parse_key
from .endpoints import routing
from .endpoints.models import Endpoint
from .exceptions import Duplicate, TryliteError, UserError
from .formatting import when
from .pool import create_database, update_database
from .settings import Settings, configure, current
from .transaction import Transaction

module_option = click.option(
    '--module', '-m', 'modules', multiple=True, metavar='MODULE',
    help='Import MODULE (its routes and models); repeatable.')
database_option = click.option('--database', '-d', 'database_name', required=True,
                               metavar='DB', help='The trylite database.')


class Group(click.Group):
    """Turns trylite's expected failures into one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            raise click.ClickException(
                f'{exc.message}: {exc.description}' if exc.description else exc.message
            ) from None
        except TryliteError as exc:
            raise click.ClickException(str(exc)) from None
        except DBAPIError as exc:
            raise click.ClickException(f'database error: {_db_message(exc)}') from None
        except SQLAlchemyError as exc:
            raise click.ClickException(f'database error: {type(exc).__name__}') from None


def _db_message(exc: DBAPIError) -> str:
    diag = getattr(exc.orig, 'diag', None)
    message = diag and diag.message_primary
    return message or str(exc.orig).strip().splitlines()[0]


@click.group(cls=Group)
@click.option('--config', '-c', 'config_file', type=click.Path(dir_okay=False),
              envvar='TRYLITE_CONFIG', help='INI configuration file.')
@click.version_option(__version__, prog_name='trylite')
def main(config_file: str | None) -> None:
    """trylite: user applications whose keys persons validate, on Werkzeug and SQLAlchemy."""
    configure(Settings.load(config_file))


@contextmanager
def _transaction(database_name: str, modules: tuple[str, ...] = ()) -> Iterator[Session]:
    server.load_modules(modules)
    storage.backend().require(database_name)
    with Transaction.start(database_name, 0) as transaction:
        yield transaction.session


# -- serve / demo --------------------------------------------------------------------------
@main.command()
@click.option('--host', help='Address to bind (default from [web] listen).')
@click.option('--port', type=int, help='Port to bind (default from [web] listen).')
@click.option('--workers', type=click.IntRange(1), help='Worker processes ([web] workers).')
@click.option('--threads', type=click.IntRange(1), help='Threads per worker ([web] threads).')
@click.option('--dev', is_flag=True, help="One process with Werkzeug's reloader.")
@module_option
def serve(host: str | None, port: int | None, workers: int | None, threads: int | None,
          dev: bool, modules: tuple[str, ...]) -> None:
    """Serve the application (gunicorn, several worker processes)."""
    settings = current()
    default_host, _, default_port = settings.web.listen.rpartition(':')
    try:
        port = port or int(default_port)
    except ValueError:
        raise click.ClickException('[web] listen must be HOST:PORT') from None
    storage.backend()  # a bad [database] uri fails here, not in every request
    server.load_modules(modules)
    server.serve(host or default_host.strip('[]') or '127.0.0.1', port,
                 workers or settings.web.workers, threads or settings.web.threads, dev=dev)


# -- db ------------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Create, list, update and drop databases."""


@db.command('create')
@click.argument('name')
@module_option
def db_create(name: str, modules: tuple[str, ...]) -> None:
    """Create database NAME with the tables of every loaded module."""
    server.load_modules(modules)
    create_database(name)
    click.echo(f'Created database {name}.')


@db.command('list')
def db_list() -> None:
    """List the trylite databases."""
    for name in storage.backend().databases():
        click.echo(name)


@db.command('update')
@click.argument('name')
@module_option
def db_update(name: str, modules: tuple[str, ...]) -> None:
    """Create the tables of models registered since NAME was created."""
    server.load_modules(modules)
    update_database(name)
    click.echo(f'Updated database {name}.')


@db.command('drop')
@click.argument('name')
@click.option('--yes', is_flag=True, help='Confirm: everything in NAME is lost.')
def db_drop(name: str, yes: bool) -> None:
    """Drop database NAME and all its data."""
    if not yes:
        raise click.ClickException(f'dropping {name} loses all its data: add --yes')
    storage.backend().require(name)
    storage.backend().drop(name)
    click.echo(f'Dropped database {name}.')


# -- user ----------------------------------------------------------------------------------
@main.group()
def user() -> None:
    """Manage the persons of a database."""


def _read_password(from_stdin: bool) -> str:
    """The password: the first line of standard input with *from_stdin*, else asked for on
    a terminal; a :class:`UserError` when there is none (never a person without one)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip('\r\n')
    elif sys.stdin.isatty():
        password = click.prompt('Password', hide_input=True, confirmation_prompt=True)
    else:
        raise UserError('no password given', 'standard input is not a terminal: pass '
                        '--password-stdin to read the password from it')
    if not password:
        raise UserError('no password given', 'the password is empty')
    return password


def _user(session: Session, login: str) -> User:
    found = session.scalars(select(User).where(User.login == login)).first()
    if found is None:
        raise UserError(f'no user with login {login!r}')
    return found


@user.command('create')
@database_option
@click.argument('login')
@click.option('--name', default='', help='Display name.')
@click.option('--password-stdin', is_flag=True, help='Read the password from standard input.')
@click.option('--admin', is_flag=True, help='Make LOGIN a member of the admin group.')
def user_create(database_name: str, login: str, name: str, password_stdin: bool,
                admin: bool) -> None:
    """Create the person LOGIN (asks for a password on a terminal)."""
    password = _read_password(password_stdin)
    try:
        with _transaction(database_name) as session:
            new = User(login=login, name=name or login, active=True)
            new.set_password(password)
            if admin:
                make_admin(session, new)
            session.add(new)
            session.flush()
    except Duplicate:
        raise UserError(f'a user with login {login!r} already exists') from None
    click.echo(f'Created user {login}.')


@user.command('list')
@database_option
def user_list(database_name: str) -> None:
    """List the persons: login, name, active."""
    with _transaction(database_name) as session:
        for found in session.scalars(select(User).order_by(User.login)):
            click.echo(f'{found.login}\t{found.name}\t{"active" if found.active else "inactive"}')


@user.command('set-password')
@database_option
@click.argument('login')
@click.option('--password-stdin', is_flag=True, help='Read the password from standard input.')
def user_set_password(database_name: str, login: str, password_stdin: bool) -> None:
    """Set the password of LOGIN (asks for it on a terminal); their open preferences
    sessions end."""
    password = _read_password(password_stdin)
    with _transaction(database_name) as session:
        _user(session, login).set_password(password)
    click.echo(f'Password of {login} set.')


@user.command('deactivate')
@database_option
@click.argument('login')
def user_deactivate(database_name: str, login: str) -> None:
    """Deactivate LOGIN: their keys and logins stop working at once, their open preferences
    sessions end."""
    with _transaction(database_name) as session:
        _user(session, login).active = False
    click.echo(f'Deactivated user {login}.')


# -- application ---------------------------------------------------------------------------
@main.group()
def application() -> None:
    """List, validate, cancel and delete user-application keys."""


@application.command('list')
@database_option
@click.option('--user', 'login', help='Only the keys of LOGIN.')
@click.option('--json', 'as_json', is_flag=True, help='Print JSON.')
def application_list(database_name: str, login: str | None, as_json: bool) -> None:
    """List keys: public id, user, application, state, created, last used."""
    with _transaction(database_name) as session:
        user_id = _user(session, login).id if login else None
        found = keys_of(session, user_id)
    if as_json:
        click.echo(json_module.dumps([
            {'id': key.public_id, 'user': key.login,
             'application': key.application, 'state': key.status, 'created': key.created,
             'last_used': key.last_used, 'expires': key.expires} for key in found]))
        return
    columns = ('id', 'user', 'application', 'state', 'created', 'last_used')
    table = [[key.public_id, key.login, key.application, key.status,
              when(key.created), when(key.last_used)] for key in found]
    widths = [max([len(c), *(len(r[i]) for r in table)]) for i, c in enumerate(columns)]
    for line in [list(columns), *table]:
        click.echo('  '.join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _key_command(action: str) -> None:
    @application.command(action)
    @database_option
    @click.argument('public_id', metavar='ID')
    def command(database_name: str, public_id: str) -> None:
        with _transaction(database_name):
            act(action, public_id)
        click.echo(f'{ACTIONS[action].done.capitalize()} key {public_id}.')
    command.__doc__ = f'{action.capitalize()} the key whose public id is ID.'


for _action in ACTIONS:
    _key_command(_action)


# -- apikey ---------------------------------------------------------------------------------
@main.group()
def apikey() -> None:
    """Make, list and revoke personal API keys."""


@apikey.command('create')
@database_option
@click.argument('login')
@click.option('--name', required=True, help='What the key is for.')
@click.option('--scope', type=click.Choice(apikeys.SCOPES), default='rpc', show_default=True,
              help='rpc: read and write; read: read only.')
@click.option('--days', type=int, help='Days until it expires (required unless LOGIN is an '
              'administrator; at most [api] key_max_days).')
def apikey_create(database_name: str, login: str, name: str, scope: str,
                  days: int | None) -> None:
    """Make a key for LOGIN and print it (once), then its Frappe-style token line."""
    with _transaction(database_name) as session:
        value = apikeys.create_key(session, _user(session, login), name, scope, days)
    parsed = parse_key(value, PERSONAL_PREFIX)
    assert parsed is not None
    click.echo(value)
    click.echo(f'token {parsed.public_id}:{parsed.secret}')


@apikey.command('list')
@database_option
@click.option('--user', 'login', help='Only the keys of LOGIN.')
def apikey_list(database_name: str, login: str | None) -> None:
    """List personal keys: public id, person, name, scope, created, last used, expires."""
    with _transaction(database_name) as session:
        user_id = _user(session, login).id if login else None
        logins: dict[int, str] = {row.id: row.login for row in session.execute(
            select(User.id, User.login))}
        for key in apikeys.keys_of(session, user_id):
            click.echo('\t'.join([key.public_id, logins.get(key.user_id, '-'), key.name,
                                  key.scope, when(key.created), when(key.last_used),
                                  when(key.expires) if key.expires else 'never']))


@apikey.command('revoke')
@database_option
@click.argument('public_id', metavar='ID')
def apikey_revoke(database_name: str, public_id: str) -> None:
    """Revoke (delete) the personal key whose public id is ID."""
    with _transaction(database_name) as session:
        apikeys.revoke(session, public_id)
    click.echo(f'Revoked key {public_id}.')


# -- demo ----------------------------------------------------------------------------------
@main.command()
@click.option('--host', default='127.0.0.1', show_default=True, help='Address to bind.')
@click.option('--port', type=int, default=8000, show_default=True, help='Port to bind.')
@click.option('--database', '-d', 'database_name', default='demo', show_default=True,
              metavar='DB', help='The database to set up.')
@click.option('--login', default='demo', show_default=True, help='The person to set up.')
@click.option('--no-serve', is_flag=True,
              help='Set the database up, print the login and password, and exit.')
def demo(host: str, port: int, database_name: str, login: str, no_serve: bool) -> None:
    """Serve the timesheet example on database DB (`demo`), with a person LOGIN (`demo`), their
    employee in a company, and a few works.

    Uses the configured [database] uri (embedded SQLite files by default). The database is
    created on first run; the password of LOGIN is new at every start and printed. With
    --no-serve, nothing is served: serve it later with `trylite serve --module example_app`.
    """
    if not no_serve:
        server.check_port(host, port)
    server.load_modules(['example_app'])
    from example_app.demo import prepare

    password = prepare(database_name, login)
    shown = '127.0.0.1' if host in ('0.0.0.0', '::', '') else host  # noqa: S104
    base = f'http://[{shown}]:{port}' if ':' in shown else f'http://{shown}:{port}'
    details = [
        f'  Database     {database_name}',
        f'  Login        {login}',
        f'  Password     {password}',
        f'  Preferences  {base}/{database_name}/preferences/  (where you validate the key)',
    ]
    if no_serve:
        click.echo('\n'.join([
            f'trylite demo: database {database_name} is ready for the timesheet example.',
            '', *details, '',
            'Serve it with: trylite serve --module example_app',
        ]))
        return
    click.echo('\n'.join([
        '',
        'trylite demo: the timesheet example application is ready.',
        '',
        f'  Open         {base}/timesheet/',
        *details,
        '',
        'Enter the database and login, ask for a key, validate it in Preferences with that',
        'password, then record your time. A new password is printed at every start.',
        'Stop with Ctrl+C.',
        '',
    ]))
    sys.stdout.flush()
    server.serve(host, port, current().web.workers, current().web.threads)


# -- endpoint --------------------------------------------------------------------------------
@main.group()
def endpoint() -> None:
    """Define, list, show, disable and delete endpoints (endpoint.endpoint records)."""


#: The keys of an endpoint definition file (``exec_as_user`` is a login).
ENDPOINT_KEYS = ('name', 'route', 'route_group', 'method', 'content_type', 'auth_type',
                 'exec_as_user', 'request_schema', 'code', 'active')


def _endpoint_vals(session: Session, definition: Any) -> dict[str, Any]:
    """The values of ``endpoint.endpoint`` for one *definition* read from a file."""
    if not isinstance(definition, dict):
        raise UserError('Invalid definition', 'An endpoint is a mapping of '
                        f'{", ".join(ENDPOINT_KEYS)}.')
    unknown = sorted(str(key) for key in definition if key not in ENDPOINT_KEYS)
    if unknown:
        raise UserError('Invalid definition', f'Unknown keys: {", ".join(unknown)} (known: '
                        f'{", ".join(ENDPOINT_KEYS)}).')
    vals = {key: value for key, value in definition.items() if key != 'exec_as_user'}
    if isinstance(vals.get('request_schema'), dict | bool):
        vals['request_schema'] = json_module.dumps(vals['request_schema'])
    if definition.get('exec_as_user'):
        vals['exec_as_user_id'] = _user(session, str(definition['exec_as_user'])).id
    return vals


def _endpoint(name: str) -> int:
    """The id of the endpoint *name*, active or not."""
    transaction = Transaction()
    with transaction.set_context(active_test=False):
        found = Endpoint.search([('name', '=', name)], limit=1)
    if not isinstance(found, list) or not found:
        raise UserError(f'no endpoint named {name!r}')
    return found[0]


@endpoint.command('create')
@database_option
@click.argument('file', type=click.File('r', encoding='utf-8'))
@module_option
def endpoint_create(database_name: str, file: Any, modules: tuple[str, ...]) -> None:
    """Create the endpoint(s) FILE defines (YAML or JSON; - for standard input): a mapping,
    or a list of them, of name, route, route_group, method, content_type, auth_type,
    exec_as_user (a login), request_schema (text or a mapping), code and active."""
    try:
        loaded = yaml.safe_load(file)
    except yaml.YAMLError as exc:
        raise UserError('Invalid file', str(exc).splitlines()[0]) from None
    definitions = loaded if isinstance(loaded, list) else [loaded]
    with _transaction(database_name, modules) as session:
        Endpoint.create([_endpoint_vals(session, d) for d in definitions])
    for definition in definitions:
        click.echo(f'Created endpoint {definition["name"]}: {definition.get("method", "GET")} '
                   f'/{database_name}{routing.PREFIX}{routing.normalize_route(definition["route"])}')


@endpoint.command('list')
@database_option
@click.option('--json', 'as_json', is_flag=True, help='Print JSON.')
def endpoint_list(database_name: str, as_json: bool) -> None:
    """List endpoints: name, method, route, auth type, route group, state."""
    with _transaction(database_name) as session:
        found = session.scalars(select(Endpoint).order_by(Endpoint.name)).all()
        rows = [(e.name, e.method, e.route, e.auth_type, e.route_group, e.active)
                for e in found]
    if as_json:
        click.echo(json_module.dumps([dict(zip(('name', 'method', 'route', 'auth_type',
                                                 'route_group', 'active'), row, strict=True))
                                       for row in rows]))
        return
    for name, method, route, auth_type, group, active in rows:
        click.echo('\t'.join([name, method, route, auth_type, group or '-',
                              'active' if active else 'disabled']))


class _BlockDumper(yaml.SafeDumper):
    """Writes text of several lines as YAML blocks (``|``)."""


_BlockDumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    'tag:yaml.org,2002:str', text, style='|' if '\n' in text else None))


@endpoint.command('show')
@database_option
@click.argument('name')
def endpoint_show(database_name: str, name: str) -> None:
    """Print the endpoint NAME as a definition file (YAML) that create reads."""
    with _transaction(database_name) as session:
        found = session.get(Endpoint, _endpoint(name))
        assert found is not None
        definition = {key: getattr(found, key) for key in ENDPOINT_KEYS
                      if key != 'exec_as_user' and getattr(found, key) not in (None, '')}
        if found.exec_as_user_id is not None:
            person = session.get(User, found.exec_as_user_id)
            definition['exec_as_user'] = person.login if person else found.exec_as_user_id
    click.echo(yaml.dump(definition, Dumper=_BlockDumper, sort_keys=False,
                         allow_unicode=True), nl=False)


def _endpoint_command(action: str, done: str, vals: dict[str, Any] | None) -> None:
    @endpoint.command(action)
    @database_option
    @click.argument('name')
    @module_option
    def command(database_name: str, name: str, modules: tuple[str, ...]) -> None:
        with _transaction(database_name, modules):
            found = _endpoint(name)
            if vals is None:
                Endpoint.unlink([found])
            else:
                Endpoint.write([found], vals)
        click.echo(f'{done} endpoint {name}.')
    command.__doc__ = f'{action.capitalize()} the endpoint NAME (on every worker at once).'


for _args in (('enable', 'Enabled', {'active': True}), ('disable', 'Disabled', {'active': False}),
              ('delete', 'Deleted', None)):
    _endpoint_command(*_args)


if __name__ == '__main__':  # pragma: no cover
    main()
