"""The benchmark's routes, written the way a trytond 8.2 module writes them."""

from trytond.pool import Pool
from trytond.protocols.wrappers import user_application, with_pool, with_transaction
from trytond.transaction import Transaction
from trytond.wsgi import app

bench = user_application('bench')


@app.route('/bench/nodb', methods=['GET'])
def nodb(request):
    """Answer without touching the database."""
    return 'ok'


@app.route('/bench/echo', methods=['POST'])
def echo(request):
    """Send the JSON body back."""
    return request.parsed_data


@app.route('/<database_name>/bench/count', methods=['GET'])
@with_pool
@with_transaction()
def count(request, pool):
    """Count users inside a transaction, without authentication."""
    User = pool.get('res.user')
    return {'users': User.search([], count=True)}


@app.route('/<database_name>/bench/whoami', methods=['GET'])
@with_pool
@with_transaction()
@bench
def whoami(request, pool):
    """Return the login of the user owning the key."""
    User = Pool().get('res.user')
    return {'login': User(Transaction().user).login}
