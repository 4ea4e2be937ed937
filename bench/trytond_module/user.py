"""Adds the ``bench`` application name to ``res.user.application``."""

from trytond.pool import PoolMeta


class UserApplication(metaclass=PoolMeta):
    """Allow key requests for the benchmark's application name."""

    __name__ = 'res.user.application'

    @classmethod
    def __setup__(cls):
        """Append ``bench`` to the ``application`` selection."""
        super().__setup__()
        cls.application.selection.append(('bench', 'Benchmark'))
