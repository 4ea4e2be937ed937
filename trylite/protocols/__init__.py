"""The peers' wire protocols, as thin adapters over the data layer's dispatcher.

Each protocol turns its requests into calls of :func:`trylite.data.dispatch.execute_as` and
its answers and errors into its own wire shapes; none re-implements access checks,
transactions or error classification. :mod:`.databases` says which database a request at the
host root works on.
"""
