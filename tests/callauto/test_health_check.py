"""callauto.postgresql: the per-request connection health check sends no `SELECT 1`
to an idle, healthy connection, and still finds one the server has closed (a restart,
a failover, pg_terminate_backend), so the request that follows reconnects instead of
failing with a 500."""

import time

import pytest
from django.db import connection, connections
from django.db.backends.postgresql import base as django_postgresql

pytestmark = pytest.mark.django_db

if connection.vendor != "postgresql":
    pytest.skip("PostgreSQL's health check", allow_module_level=True)


@pytest.fixture
def second_connection():
    """A connection of its own, outside the test's transaction, as a worker's is."""
    wrapper = connections.create_connection("default")
    wrapper.settings_dict["CONN_HEALTH_CHECKS"] = True
    wrapper.settings_dict["CONN_MAX_AGE"] = 60  # kept across requests, as in production
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def start_next_request(wrapper) -> None:
    wrapper.close_if_unusable_or_obsolete()  # what request_started does


def test_a_healthy_idle_connection_is_not_asked(second_connection, monkeypatch):
    kept = second_connection.connection
    asked = []
    monkeypatch.setattr(
        django_postgresql.DatabaseWrapper, "is_usable", lambda self: asked.append(1) or True
    )
    start_next_request(second_connection)

    with second_connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)
    assert asked == []
    assert second_connection.connection is kept


def test_a_connection_the_server_ended_is_replaced_before_the_first_statement(
    second_connection,
):
    with second_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [(pid,)] = cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):  # the backend ends a moment after the signal
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone() == (0,):
                break
            time.sleep(0.05)
    old = second_connection.connection
    start_next_request(second_connection)

    with second_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [(new_pid,)] = cursor.fetchall()
    assert new_pid != pid
    assert second_connection.connection is not old
