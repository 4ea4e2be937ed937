"""trylite routes equivalent to the trytond module's (bench/trytond_module/routes.py)."""

from sqlalchemy import func, select

from trylite.transaction import Transaction
from trylite.user_application import register_application
from trylite.wrappers import user_application, with_pool, with_transaction
from trylite.wsgi import app

register_application('bench', 'Benchmark')
bench = user_application('bench')


@app.route('/bench/nodb', methods=['GET'])
def nodb(request):
    """Answer without touching the database."""
    return 'ok'


@app.route('/bench/echo', methods=['POST'])
def echo(request):
    """Send the JSON body back."""
    return request.get_json()


@app.route('/<database_name>/bench/count', methods=['GET'])
@with_pool
@with_transaction()
def count(request, pool):
    """Count users inside a transaction, without authentication."""
    User = pool.get('res.user')
    return {'users': Transaction().session.scalar(select(func.count()).select_from(User))}


@app.route('/<database_name>/bench/whoami', methods=['GET'])
@with_pool
@with_transaction()
@bench
def whoami(request, pool):
    """Return the login of the user owning the key."""
    User = pool.get('res.user')
    user = Transaction().session.get(User, Transaction().user)
    return {'login': user.login}
