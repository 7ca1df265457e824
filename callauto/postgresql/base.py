"""Django's PostgreSQL backend, its connection health check made cheap (issue 15).

CONN_HEALTH_CHECKS keeps a restarted or failed-over PostgreSQL from costing a 500: the
first statement of each request would otherwise go to a connection the server has
closed. Django checks with a `SELECT 1` round trip per request, which was one statement
in four of an authenticated read. A server that ends a connection (restart, failover,
pg_terminate_backend, idle timeout) sends its FATAL message and closes the socket, so
the socket turns readable; an idle, healthy connection has nothing to read. We look at
the socket without waiting and send the `SELECT 1` only when there is something to read
or the connection is not idle: the same verdict, without the round trip in the
common case. (A peer that vanishes without closing would stall `SELECT 1` as well.)
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None:
            return False
        if quiet_and_idle(self.connection):
            return True
        return super().is_usable()


def quiet_and_idle(connection) -> bool:
    """True when the connection is open, outside a transaction, and the server has sent
    nothing since the last answer (no FATAL, no end of stream)."""
    pgconn = connection.pgconn
    if pgconn.status != pq.ConnStatus.OK:
        return False
    if pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    poller = select.poll()  # poll, not select: any descriptor number
    poller.register(pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
    return not poller.poll(0)
