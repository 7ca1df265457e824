"""callauto's benchmark suite: `make bench` (or `.venv/bin/python -m bench`).

It boots the real processes on 127.0.0.1 against PostgreSQL and prints three tables:
CreateCall throughput against a trivial authenticated endpoint (gunicorn sync workers),
event-to-callback latency through django-q2 (ORM broker, and Redis when reachable), and
callback deliveries per second with one worker beside a raw keep-alive POST loop.
`python -m bench.crash_proof` (`make crash-proof`) proves delivery survives a SIGKILLed
cluster and a PostgreSQL restart.
"""
