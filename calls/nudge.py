"""Waking the gateway when there is work: PostgreSQL NOTIFY after a command commits.

The gateway polls anyway (a lost nudge or a restart loses nothing), so this only cuts
the delay between an API call and its effect on the network. SQLite has no LISTEN:
there the gateway just polls.
"""

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, transaction

log = logging.getLogger(__name__)

CHANNEL = "callauto_gateway"


def nudge_gateway() -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {CHANNEL}")


def queue_nudge(sender: Any, created: bool = False, **kwargs: Any) -> None:
    """post_save of a CarrierCommand: nudge once per transaction, after it commits."""
    if not created:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    if any(func is nudge_gateway for _, func, _ in connection.run_on_commit):
        return
    transaction.on_commit(nudge_gateway)


async def listen(wake: asyncio.Event) -> None:
    """Set `wake` on every nudge until cancelled; reconnect after database restarts."""
    settings = connections[DEFAULT_DB_ALIAS].settings_dict
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        return
    conninfo = psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"], user=settings.get("USER") or None,
        password=settings.get("PASSWORD") or None, host=settings.get("HOST") or None,
        port=str(settings["PORT"]) if settings.get("PORT") else None,
    )  # fmt: skip
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                async for _ in conn.notifies():
                    wake.set()
        except psycopg.OperationalError as exc:
            log.warning("gateway nudges lost (%s); polling until reconnected", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.sleep(2)
