# Two commands: `make run` (demo server) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev migrate demo messages bench clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.requirements: $(PY) requirements.txt
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.requirements-dev: $(VENV)/.requirements requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.requirements
install-dev: $(VENV)/.requirements-dev

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

# A task worker runs beside the server, so large exports show their progress and
# e-mails go out as they would in production (TASKS_BACKEND=database).
run: demo
	@echo "Serving http://$(HOST):$(PORT)/admin/  (Ctrl-C to stop)"
	@TASKS_BACKEND=database DEBUG=$${DEBUG:-1} $(PY) manage.py db_worker --no-reload --no-startup-delay -v 0 & \
	worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	TASKS_BACKEND=database DEBUG=$${DEBUG:-1} $(PY) manage.py runserver $(HOST):$(PORT)

test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

messages: install-dev
	$(PY) manage.py makemessages -l zh_Hant --ignore=.venv --ignore=tests --ignore=bench
	$(PY) manage.py compilemessages -l zh_Hant --ignore=.venv

# Every admin page on 1,500,000 orders beside Django's stock ModelAdmin (bench/pages_bench.py;
# results appended to bench/RESULTS.md). Needs DATABASE_URL pointing at a PostgreSQL database
# it may fill once and keep, e.g. postgres://postgres@127.0.0.1:5432/fulfilment_bench.
# BENCH_ARGS="--repeat 5 --only lookup" and so on.
bench: install-dev
	@case "$$DATABASE_URL" in \
	  postgres://*|postgresql://*|pgsql://*) ;; \
	  "") echo "make bench: set DATABASE_URL to a PostgreSQL database, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/fulfilment_bench make bench" >&2; exit 2 ;; \
	  *) echo "make bench: DATABASE_URL must be a PostgreSQL URL (postgres://...), not $${DATABASE_URL%%:*}:..." >&2; exit 2 ;; \
	esac
	$(PY) -m bench.pages_bench $(BENCH_ARGS)

# The customer-service searches alone (bench/search_bench.py; same DATABASE_URL).
.PHONY: bench-search
bench-search: install-dev
	$(PY) -m bench.search_bench

# Export, import and dashboard on a million orders (same DATABASE_URL; results in bench/RESULTS.md).
.PHONY: bench-reports
bench-reports: install-dev
	$(PY) -m bench.reports_bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles test-artifacts
