"""The auth layer: tokens, persons, sessions, keys and throttling.

It stands on the storage and ORM layers and knows nothing of HTTP routing: functions here take
plain values (a token, a login, a client address) and raise
:class:`~trylite.exceptions.AuthenticationFailed` or :class:`~trylite.exceptions.Throttled`,
which the web layer turns into answers.
"""
