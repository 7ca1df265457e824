"""Create the PostgreSQL database named in DATABASE_URL if it does not exist yet.

`make test` runs it so a fresh machine needs no manual `createdb`; pytest-django
then creates its own `test_<name>` database beside it.
"""

import os
import sys
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

url = os.environ.get("DATABASE_URL", "")
parts = urlsplit(url)
if parts.scheme not in ("postgres", "postgresql", "pgsql"):
    sys.exit(0)
name = parts.path.lstrip("/")
admin_url = parts._replace(path="/postgres").geturl()
try:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"Created database {name}.")
except psycopg.OperationalError as exc:
    sys.exit(f"Cannot reach PostgreSQL at {parts.hostname}:{parts.port or 5432}: {exc}")
