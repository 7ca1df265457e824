# callauto: `make run` to try it, `make test` to check it. Both set everything up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/callauto_test
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/callauto_bench

.PHONY: run test bench crash-proof lint format migrations-check worker venv sysdeps clean

# The virtualenv is rebuilt whenever a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "callauto needs Python 3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# Debian packages the product and its tests need, as command:package (espeak-ng speaks TextSource
# prompts; chromium runs the browser tests; sipp (sip-tester) is the real SIP peer of the SIP
# carrier tests). Installed when missing and we are root with
# apt-get; otherwise we say what to install and carry on, since only that feature breaks.
SYSDEPS := espeak-ng:espeak-ng chromium:chromium sipp:sip-tester

sysdeps:
	@missing=""; for dep in $(SYSDEPS); do \
	  command -v "$${dep%%:*}" >/dev/null || missing="$$missing $${dep#*:}"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
	    && exit 0; \
	fi; \
	echo "callauto: missing Debian packages:$$missing; install: sudo apt-get install$$missing"

run: venv sysdeps
	$(PY) manage.py migrate --noinput
	$(PY) manage.py make_dev_cert
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo
	@echo "Starting web (https://127.0.0.1:8443, http://127.0.0.1:8000), worker and gateway. Ctrl-C stops all."
	exec $(VENV)/bin/honcho start -f Procfile

worker: venv
	$(PY) manage.py qcluster

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: venv
	$(PY) manage.py makemigrations --check --dry-run

# Three workers on 2 cores: the workers wait on PostgreSQL and on real-time (SIP, browser) tests,
# so a third fills that time (session 10, fresh clone: suite 7 min 32 s at -n 2, 5 min 48 s at -n 3).
test: venv sysdeps lint migrations-check
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) scripts/ensure_postgres_db.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest -n $(or $(JOBS),3) --dist worksteal

# CreateCall req/s vs a trivial endpoint, event -> callback latency and callback throughput
# (bench/); ~2 minutes. PARTS=1 (or 2,3) runs only those parts; PROFILE=1 saves py-spy
# flame graphs of the measured processes into bench/out/.
bench: venv
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) scripts/ensure_postgres_db.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench $(if $(PARTS),--parts $(PARTS)) $(if $(PROFILE),--profile)

# Callbacks survive a SIGKILLed cluster and a PostgreSQL restart (bench/crash_proof.py);
# restarts the local PostgreSQL cluster mid-run. About 2 minutes.
crash-proof: venv
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) scripts/ensure_postgres_db.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.crash_proof

# Notifications (issue 16): households at a sweep of CPS with 500 concurrent, real processes
# on real time (bench/notify.py): 1,000 households at CPS 5, 10, 20, 50 by default, and the
# highest CPS kept within 1.1 x N / CPS. The issue's headline run:
# NOTIFY_ARGS="--households 10000 --cps 50".
NOTIFY_ARGS ?= --households 1000 --sweep 5,10,20,50
.PHONY: bench-notify
bench-notify: venv
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) scripts/ensure_postgres_db.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.notify $(NOTIFY_ARGS)

# Refresh the portal pictures in docs/screenshots/ (the browser tests, taking them for real).
.PHONY: screenshots
screenshots: venv sysdeps
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) scripts/ensure_postgres_db.py
	CALLAUTO_SCREENSHOTS=1 DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest tests/browser -q

clean:
	rm -rf $(VENV) var

# Usage report pages and API over 1,000,000 call legs of 100 tenants (bench/usage.py):
# p50/p95 against 250 ms (all tenants, 30 days) and 100 ms (one tenant's month, API).
# Portal lists at 1,000 vs 1,000,000 calls: statements, ms and plan per page (bench/lists.py);
# seeding takes about a minute, LISTS_ARGS="--rows 100000" for a shorter run.
.PHONY: bench-lists
# Its own database: each run empties the list tables (TRUNCATE, --fresh) before seeding.
LISTS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/callauto_bench_lists
bench-lists: venv
	DATABASE_URL=$(LISTS_DATABASE_URL) $(PY) scripts/ensure_postgres_db.py
	BENCH_DATABASE_URL=$(LISTS_DATABASE_URL) $(PY) -m bench.lists --fresh $(LISTS_ARGS)

.PHONY: bench-usage
bench-usage: venv
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) scripts/ensure_postgres_db.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.usage

# Reminder campaigns: 10,000 appointments due in one minute, CPS 20, 200 concurrent, on the
# simulated carrier and virtual time (bench/reminders.py). N=... for a shorter run.
bench-reminders: venv
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) scripts/ensure_postgres_db.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.reminders --appointments $(or $(N),10000)

.PHONY: bench-reminders

# A reminder campaign in real time with the real processes (gunicorn, qcluster, gateway,
# dispatcher): N reminders at RATE calls/s (bench/campaign.py); N=200 for a quick reading;
# PROFILE=60 saves py-spy flame graphs of 60 s into bench/out/; GATEWAYS=2 runs two gateways;
# BENCH_PORTS=48000-48999 keeps its ports in a range. When the headline run misses its goal,
# 600 reminders at each SWEEP rate below it (lowest first, up to the first miss) find the
# highest calls/s kept within it (about 2 minutes a rate); SWEEP= skips that.
CAMPAIGN_SWEEP := 8,10,12,14,16,18
SWEEP ?= $(CAMPAIGN_SWEEP)
bench-campaign: venv
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) scripts/ensure_postgres_db.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.campaign --appointments $(or $(N),2000) --rate $(or $(RATE),20) $(if $(PROFILE),--profile $(PROFILE)) $(if $(GATEWAYS),--gateways $(GATEWAYS)) $(if $(SWEEP),--sweep $(SWEEP))

.PHONY: bench-campaign

# SIP carrier under load against SIPp (bench/sip_load.py): 50, 100, 200 concurrent calls at
# 20 calls/s, prompts + recording + DTMF on every call; figures vs the issue-14 targets.
# LEVELS=... for others (e.g. LEVELS=20,50); REALTIME=10 makes the media clock thread
# SCHED_FIFO (MEDIA_REALTIME_PRIORITY, root). Needs sipp (make sysdeps). A few minutes.
.PHONY: bench-sip
# make's $(or a,b,c) splits on commas, so the default levels live in a variable.
SIP_LEVELS := 50,100,200
bench-sip: venv sysdeps
	$(PY) -m bench.sip_load --levels $(or $(LEVELS),$(SIP_LEVELS)) --search $(or $(SEARCH),3) \
		$(if $(REALTIME),--realtime $(REALTIME))
.PHONY: bench-speech
# Issue 18: concurrent recognitions and media streams on the SIP media engine against its
# 20 ms clock's lateness, recognition latency p50/p99, WER on espeak-ng sentences. Needs no
# database. REALTIME=1 runs the media thread SCHED_FIFO (root): on a loaded machine the
# run queue, not the code, decides lateness.
bench-speech: venv
	$(PY) -m bench.speech $(if $(SECONDS),--seconds $(SECONDS)) $(if $(REALTIME),--realtime)
