# Two commands on a fresh machine:  make lab  /  make test
# Everything else is a step of those two, also usable on its own.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
NB     ?= notebooks/*.ipynb
# Test files and notebooks in parallel, each file on one worker (a notebook's cells in order).
PYTEST_ARGS ?= -n 4 --dist loadfile --no-loadscope-reorder
# Jupyter refuses to run as root unless told (containers and CI machines often are root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test soak times lock setup services stop status notebooks lint format clean
.PHONY: student book book-serve sandbox lab-ready wheelhouse offline-install flower translations

## lab: set everything up, then open JupyterLab on notebooks/ (services stop when it exits)
lab: setup
	$(PY) -m cqlab run -- $(VENV)/bin/jupyter lab --ip=127.0.0.1 $(ROOT_FLAG) notebooks/

## test: set everything up, then run every test, the notebooks included (strict nbval)
test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m cqlab check -- $(PY) -m pytest $(PYTEST_ARGS)

## soak: notebooks (NB) under strict nbval N times quiet, N times with both cores busy; tests/ 3 times
N ?= 5
soak: setup
	$(PY) -m cqlab check -- $(PY) scripts/soak.py $(N) $(NB)

## times: each notebook (NB) alone under strict nbval: run time, reading time, exercises (docs/teaching.md's table)
times: setup
	$(PY) -m cqlab check -- $(PY) scripts/notebook_times.py $(NB)

## setup: virtualenv with the pinned packages, .env with generated secrets
setup: $(STAMP)
	@$(PY) -m cqlab env

$(STAMP): requirements.lock pyproject.toml
	@sh scripts/bootstrap-venv.sh "$(PYTHON)" "$(VENV)"
	@touch $@

## lock: pin every package with its hashes, for Python 3.10+ on Linux and macOS (after editing requirements.txt)
UV_VERSION := 0.13.9
lock: setup
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile --universal --python-version 3.10 --generate-hashes --no-python-downloads \
	  --quiet requirements.txt -o requirements.lock

## services / stop / status: Redis and Memcached (local binaries, or docker compose)
services: setup
	$(PY) -m cqlab up

stop:
	@if [ -x $(PY) ]; then $(PY) -m cqlab stop; fi

status: setup
	$(PY) -m cqlab status

## notebooks: re-execute notebooks in place (NB=notebooks/02-django-caching.ipynb for one)
notebooks: setup
	$(PY) -m cqlab check --private -- sh scripts/execute-notebooks.sh $(NB)

## lint: ruff on the code and the notebooks
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check cqlab sandbox_project tests

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format cqlab sandbox_project tests

## clean: stop services, remove the virtualenv and var/ (keeps .env)
clean: stop
	rm -rf $(VENV) var

## translations: the Russian edition notebooks/ru/*.ipynb from the English notebooks and notebooks/ru/catalog/;
## then names every missing, stale or orphaned translation (docs/translations.md)
translations: setup
	$(PY) -m cqlab.notebook.translations

# --- classroom kit -----------------------------------------------------------------------------
## student: student editions in build/student/ (solutions stubbed), solutions in build/student/solutions/;
## the Russian edition's in build/student/ru/
student: setup
	$(PY) -m cqlab.notebook.editions

## book: static HTML site of the executed notebooks in build/book/, the Russian edition's in build/book/ru/,
## each page with a language switch (nothing re-executed, no server)
book: setup
	rm -rf build/book-src build/book-src-ru build/book && mkdir -p build/book-src build/book-src-ru
	cp book/index.md notebooks/*.ipynb build/book-src/
	cp book/index.ru.md build/book-src-ru/index.md
	cp notebooks/ru/*.ipynb build/book-src-ru/
	$(VENV)/bin/sphinx-build -q -W --keep-going -c book build/book-src build/book
	BOOK_LANGUAGE=ru $(VENV)/bin/sphinx-build -q -W --keep-going -c book build/book-src-ru build/book/ru
	@echo "Book: build/book/index.html, in Russian build/book/ru/index.html (make book-serve to browse it)"

## book-serve: serve build/book/ on 127.0.0.1 (port 8001, or a free one if taken)
book-serve: book
	$(PY) scripts/serve_book.py

## sandbox: the sandbox as a website with a worker (catalogue, signup form, mailbox, admin); URLs printed
sandbox: setup
	$(PY) -m cqlab run -- $(PY) scripts/sandbox_site.py

## lab-ready: JupyterLab opens on notebook 00, without the news pop-up, the notebooks trusted
lab: lab-ready
lab-ready: setup
	@$(PY) scripts/lab_ready.py

## wheelhouse: every locked package (requirements.lock, hashes checked) in build/wheelhouse/, for a
## room without internet (same OS and Python version as the learners' machines); then: make offline-install
WHEELHOUSE := build/wheelhouse
wheelhouse: setup
	$(PY) -m pip download --quiet --disable-pip-version-check -d $(WHEELHOUSE) --require-hashes -r requirements.lock
	$(PY) -m pip download --quiet --disable-pip-version-check -d $(WHEELHOUSE) setuptools wheel
	@echo "$$(ls $(WHEELHOUSE) | wc -l) files in $(WHEELHOUSE); install with: make offline-install"

## offline-install: the virtualenv from build/wheelhouse/ only (no index, no network), hashes checked
offline-install:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --no-index --find-links $(WHEELHOUSE) --require-hashes -r requirements.lock
	$(VENV)/bin/python -m pip install --no-index --find-links $(WHEELHOUSE) --no-deps -e .
	@touch $(STAMP)

## flower: Celery's monitoring UI on 127.0.0.1:5555 (basic auth from .env) for namespace NS
## (NS=03 for notebook 03's workers; default: the make sandbox website's)
NS ?=
flower: setup
	$(PY) -m cqlab run -- $(PY) scripts/flower.py $(NS)
