# ChurnLens: `make run` starts the dashboard on demo data, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run serve test test-fast bench install clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) app.py $(ARGS)

# A server for a team: gunicorn, WORKERS processes (default: twice the cores) sharing the
# model loaded once; login is required on any address but 127.0.0.1 (see the README).
serve: $(STAMP)
	$(PY) -m dashboard.serve $(if $(WORKERS),--workers $(WORKERS)) $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not e2e and not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	PYTHONPATH=. $(PY) bench/bench_start.py $(ARGS)
	PYTHONPATH=. $(PY) bench/bench_offers.py $(OFFERS_ARGS)

clean:
	rm -rf .cache .pytest_cache
