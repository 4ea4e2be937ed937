"""Create the benchmark users and a validated key in a trytond database.

Runs with the trytond virtual environment's Python:
``python trytond_setup.py CONFIG DATABASE GUARDED_LOGIN KEYREQ_LOGIN`` and
prints the validated key of GUARDED_LOGIN as JSON.
"""

import json
import sys

from trytond.config import config


def main(conf: str, database: str, guarded_login: str, keyreq_login: str) -> None:
    """Create both users, request and validate a ``bench`` key, print it."""
    config.update_etc(conf)
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0) as transaction:
        User = pool.get('res.user')
        UserApplication = pool.get('res.user.application')
        user, _ = User.create([
                {'login': guarded_login, 'name': 'Bench user'},
                {'login': keyreq_login, 'name': 'Bench key requests'},
                ])
        application, = UserApplication.create([{
                    'user': user.id, 'application': 'bench', 'state': 'requested'}])
        UserApplication.validate_([application])
        transaction.commit()
        print(json.dumps({'key': application.key}))


if __name__ == '__main__':
    main(*sys.argv[1:5])
