"""callauto's benchmark suite: `make bench` (or `.venv/bin/python -m bench`).

It boots the real processes on 127.0.0.1 against PostgreSQL and prints two tables:
CreateCall throughput against a trivial authenticated endpoint (gunicorn sync workers),
and event-to-callback latency through django-q2 (ORM broker, and Redis when reachable).
"""
