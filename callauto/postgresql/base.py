"""Django's PostgreSQL backend, its connection health check made cheap and a cursor for
prepared statements (issue 15).

CONN_HEALTH_CHECKS keeps a restarted or failed-over PostgreSQL from costing a 500: the
first statement of each request would otherwise go to a connection the server has
closed. Django checks with a `SELECT 1` round trip per request, which was one statement
in four of an authenticated read. A server that ends a connection (restart, failover,
pg_terminate_backend, idle timeout) sends its FATAL message and closes the socket, so
the socket turns readable; an idle, healthy connection has nothing to read. We look at
the socket without waiting and send the `SELECT 1` only when there is something to read
or the connection is not idle: the same verdict, without the round trip in the
common case. (A peer that vanishes without closing would stall `SELECT 1` as well.)

`prepared_cursor()` is for the hot reads of callauto.compiled: their SQL never changes,
so PostgreSQL parses and plans each once per connection and then only binds the values.
Django's own cursors stay client-side binding without preparation (its default, which
keeps poolers in transaction mode working); only these few statements are prepared, and
psycopg keeps at most `prepared_max` (100) of them per connection. psycopg only prepares
when a connection has a `prepare_threshold` (Django sets none); ours is too high to be
reached, so nothing is prepared without being asked (client-side cursors never are).
"""

import select

from django.db.backends.postgresql import base, operations
from psycopg import errors, pq

ONLY_WHEN_ASKED = 2**62  # executions before psycopg would prepare a statement by itself


class PreparedCursor(base.ServerBindingCursor):
    """Server-side binding, each statement prepared on its first execution."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        # What query logging (DEBUG, CaptureQueriesContext) records: psycopg keeps no text
        # for a prepared execution, so compose it as Django does for server-side binding.
        if isinstance(cursor, PreparedCursor):
            try:
                return self.compose_sql(sql, params)
            except errors.DataError:
                return None
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        if params.get("prepare_threshold") is None:
            params["prepare_threshold"] = ONLY_WHEN_ASKED
        return params

    def prepared_cursor(self):
        """Like cursor() (health check, connection, query logging, error wrapping), with a
        PreparedCursor inside."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(PreparedCursor(self.connection))

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
