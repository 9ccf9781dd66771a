# ParentVoice: `make run` to try it, `make test` to test it. See README.md.
SHELL := /bin/bash
PY311 ?= $(shell command -v /root/.pyenv/versions/3.11.7/bin/python || command -v python3.11)
PY310 ?= $(shell command -v /root/.pyenv/versions/3.10.13/bin/python || command -v python3.10)
VENV := .venv
RASA_VENV := .venv-rasa
BENCH_VENV := .venv-bench
AUDIT_VENV := .venv-audit
APP := $(VENV)/bin/parentvoice

.PHONY: setup run test audit compile train bench eval-redact eval-insight eval-insight-rasa lint clean chromium screenshots

# Install-only step shared by run and test. Idempotent: stamps record what is installed.
setup: $(VENV)/.stamp $(RASA_VENV)/.stamp

$(VENV)/.stamp: pyproject.toml
	@test -n "$(PY311)" || { echo "Python 3.11 is required for the app"; exit 2; }
	test -x $(VENV)/bin/python || $(PY311) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

$(RASA_VENV)/.stamp: nlu/requirements-rasa.lock
	@test -n "$(PY310)" || { echo "Python 3.10 is required for Rasa 3.6 (pyenv install 3.10.13)"; exit 2; }
	test -x $(RASA_VENV)/bin/python || $(PY310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install --quiet --upgrade 'pip<25' wheel
	$(RASA_VENV)/bin/pip install --quiet -r nlu/requirements-rasa.lock
	touch $@

compile: setup
	$(APP) flows validate
	$(APP) flows compile

# Trains only when flows, NLU data or the pipeline changed (content hash in the model's name).
train: compile
	$(APP) rasa train
	$(VENV)/bin/python -m bot.insight

run: train
	$(APP) serve

test: train chromium
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

# Known vulnerabilities in both virtualenvs (pip-audit in a venv of its own). Fails on a finding;
# says so, without failing, when its vulnerability service cannot be reached (tools/audit.py).
$(AUDIT_VENV)/.stamp:
	test -x $(AUDIT_VENV)/bin/python || $(PY311) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install --quiet pip-audit==2.10.1
	touch $@

audit: setup $(AUDIT_VENV)/.stamp
	$(VENV)/bin/python tools/audit.py $(AUDIT_VENV)/bin/pip-audit $(VENV) $(RASA_VENV)

bench: train
	$(VENV)/bin/python bench/latency.py
	$(VENV)/bin/python bench/load.py --levels 1,10,100
	$(VENV)/bin/python bench/sender_rate.py
	$(VENV)/bin/python bench/outcomes.py
	$(VENV)/bin/python bench/rasa_pipeline.py

# Our redactor against Microsoft Presidio on the project's evaluation set, side by side in one run.
# Presidio and its spaCy model live in their own venv: they are for this comparison only.
$(BENCH_VENV)/.stamp: eval/redact/requirements-presidio.txt
	test -x $(BENCH_VENV)/bin/python || $(PY311) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet --require-hashes --ignore-requires-python \
		-r eval/redact/requirements-presidio.txt
	touch $@

eval-redact: setup $(BENCH_VENV)/.stamp
	$(VENV)/bin/python eval/redact/generate.py --check
	$(BENCH_VENV)/bin/python eval/redact/run.py --require-presidio

# Safeguarding (risk recall, false alarms) and coding (themes, sentiment) on the held-out sets.
eval-insight: train
	$(VENV)/bin/python eval/insight/check.py
	$(VENV)/bin/python eval/insight/run.py

# The same themes and sentiment scored for Rasa NLU models trained on the same examples (side by side).
eval-insight-rasa: setup
	$(VENV)/bin/python eval/insight/rasa_compare.py

# The browser tests and screenshots drive the machine's Chromium (Playwright cannot download one here).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# A PNG of every staff page, on a laptop and on a phone, in var/screenshots/.
screenshots: setup chromium
	$(VENV)/bin/python tools/screenshots.py

lint: setup
	$(VENV)/bin/ruff check bot flows storage tests bench eval
	$(VENV)/bin/mypy bot flows storage

clean:
	rm -rf var/models var/rasa var/*.db var/*.log
