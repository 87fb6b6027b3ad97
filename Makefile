# Everything a fresh machine needs is installed from here: the venv, the browser for the e2e tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0
# uv installs no bytecode, and a machine with PYTHONDONTWRITEBYTECODE set (this CI's) never keeps
# any: every process (each pytest worker, stack, emulator, cfn-lint, sam) compiled moto, botocore,
# samcli ... from source again (cfn-lint 6.7 s instead of 2.8 s). Python keeps what it compiles
# here, once, as on any developer's machine. (The Lambda-layout children set it themselves.)
unexport PYTHONDONTWRITEBYTECODE
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: run test suite unit component integration e2e coverage lint format template build bench invoke browser clean help lock venv checkov check-network iam-unused podman lambda-image sam-local samlocal

help:
	@echo "make run        - start the local stack (API on http://127.0.0.1:$${PORT:-3000}); Ctrl-C stops it"
	@echo "make test       - template checks + the whole test suite (docs/testing.md)"
	@echo "make unit | component | integration | e2e - one tier of the suite"
	@echo "make suite      - the JavaScript tests and every pytest tier (what make test runs beside make template)"
	@echo "make coverage   - coverage of the domain modules by the unit and component tiers"
	@echo "make lint       - ruff, ruff format --check, mypy, ESLint (web/)"
	@echo "make format     - ruff format + ruff check --fix"
	@echo "make template   - cfn-lint, the deploy rehearsal, sam validate --lint, checkov, sam build"
	@echo "make invoke FN=OrdersFunction EVENT=events/orders-create.json - run one function with a sample event"
	@echo "make check-network SUBNETS=subnet-a,subnet-b - before a VPC deploy: do the subnets route through a NAT gateway?"
	@echo "make bench      - benchmarks, writes bench/RESULTS.md"
	@echo "make venv       - .venv from the lock files (every target does this first)"
	@echo "make lock       - rewrite the lock files from pyproject.toml (UPGRADE=--upgrade to refresh)"
	@echo "make browser    - Debian's chromium for the browser tests, if missing"
	@echo "make clean      - remove build, cache and test output"
	@echo "make create-admin USERNAME=alice EMAIL=alice@example.com - the first staff account of a deployed stack"
	@echo "make iam-unused - after a test run: the grants of each role no request used"
	@echo "make sam-local  - the real sam local start-api on podman or Docker (docs/sam-local.md)"
	@echo "make samlocal   - the tests that run the real sam local invoke / start-api in containers"
	@echo "make lambda-image - build the local stand-in for AWS's Lambda python3.11 image"
	@echo "make help       - this list"

# Everything comes from the lock (every transitive dependency pinned, with hashes; --no-deps: the
# lock is complete), installed by uv (pinned in pyproject.toml and the lock; bootstrapped with pip)
# in seconds where pip takes minutes; then the project itself, editable, without dependencies; pip
# check proves nothing is missing.
UV_PIN = $$(grep -o '"uv==[^"]*"' pyproject.toml | tr -d '"')
$(STAMP): pyproject.toml requirements/dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check "$(UV_PIN)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes --no-deps -r requirements/dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

venv: $(STAMP)

# The lock files, all from pyproject.toml: the dev environment, the Lambda layer (for Lambda's
# platform) and checkov (its own venv: it pins an old boto3). Re-run after any change of a pin;
# existing pins are kept unless pyproject.toml asks otherwise (`make lock UPGRADE=--upgrade` to refresh).
LOCK := $(BIN)/uv pip compile --quiet --python-version 3.11 --generate-hashes --custom-compile-command "make lock" $(UPGRADE)
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet "$(UV_PIN)"
	$(LOCK) pyproject.toml --extra dev --extra local -o requirements/dev.lock
	$(LOCK) pyproject.toml --python-platform x86_64-manylinux2014 -c requirements/dev.lock -o layers/shared/requirements.txt
	$(LOCK) --group pyproject.toml:checkov -o requirements/checkov.lock

CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements/checkov.lock $(STAMP)
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(BIN)/uv pip install --quiet --python $(CHECKOV_VENV)/bin/python --require-hashes --no-deps -r requirements/checkov.lock
	@touch $@

# Debian's chromium for the browser tests; never a browser download.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

run: $(STAMP)
	$(BIN)/shop dev $(if $(FRESH),--fresh)

# The real `sam local` (docs/sam-local.md). Debian's podman, runc (podman's runtime here: crun fails
# on this machine's cgroups) and debootstrap (for the Lambda image) where missing; never a download
# of anything else. With Docker already running none of it is used.
podman:
	@for tool in podman runc debootstrap; do \
	  command -v $$tool >/dev/null 2>&1 || test -x /usr/sbin/$$tool || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's$$missing for sam local"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; fi

# A stand-in for AWS's public.ecr.aws/lambda/python:3.11 image, built here (no registry needed);
# cached: the script rebuilds it only when its recipe changes.
lambda-image: $(STAMP) podman
	local/lambda-image/build.sh

# `sam local start-api` on :3000 against `shop backing` (:3100-3103), in podman's containers or Docker's.
sam-local: $(STAMP) podman
	$(BIN)/shop sam-local

# The real SAM CLI commands in containers (tests/samlocal): its own tier, not in `make suite`.
samlocal: $(STAMP) podman
	$(PYTEST) tests/samlocal

# Before a deploy with VpcSubnetIds: do those subnets reach the internet through a NAT gateway?
check-network: $(STAMP)
	$(BIN)/python tools/check_network.py $(SUBNETS)

invoke: $(STAMP)
	$(BIN)/shop invoke $(FN) -e $(EVENT)

# The first staff account of a deployed stack, with your AWS credentials (docs/deploying.md,
# "The first admin"): make create-admin USERNAME=alice EMAIL=alice@example.com [STACK=shop REGION=...]
# The password is prompted for (never an argument); an existing USERNAME is promoted.
.PHONY: create-admin
create-admin: $(STAMP)
	$(BIN)/python tools/create_admin.py --stack-name "$(or $(STACK),shop)" --username "$(USERNAME)" \
	  $(if $(EMAIL),--email "$(EMAIL)") $(if $(REGION),--region "$(REGION)")

# After a test run (each stack records what its functions used under .cache/iam): the grants of
# each function's role that no request exercised, failing on any not in
# tests/integration/iam_unexercised.json (sam_runner.iam_unused).
iam-unused: $(STAMP)
	$(BIN)/python -m sam_runner.iam_unused

# cfn-lint (with the project's rules), the deploy rehearsal (SAM's translation for each deploy
# profile, its Rules, cfn-lint and checkov on the translated templates: tools/rehearse.py),
# sam validate --lint, checkov and sam build (no container: the local Python is the runtime's).
template: $(STAMP) $(CHECKOV_VENV)/.installed
	$(BIN)/cfn-lint --append-rules lint/cfn_rules -- template.yaml
	$(BIN)/python tools/rehearse.py
	$(BIN)/sam validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)
	$(CHECKOV_VENV)/bin/checkov --config-file lint/checkov.yaml -f template.yaml
	$(BIN)/sam build --template template.yaml --build-dir .aws-sam/build --cached --parallel
	@touch .aws-sam/build.done

# The tiers (docs/testing.md): unit (no service), component (moto, Redis, the stand-in over HTTP),
# integration (the local stack), e2e (the browser), template (cfn-lint, checkov, sam build).
# pytest-xdist runs each file on one of `-n auto` workers; each worker has its own Redis databases
# and its own stack (tests/conftest.py).
PYTEST := $(BIN)/python -m pytest
XDIST ?= -n auto --dist loadfile
# The tiers that run the local stack spend much of their time waiting (for pollers, retries, a
# browser), so they get more workers than cores: four, each with its own stack and two Redis
# databases (8-15 from SHOP_TEST_REDIS_DB=8).
STACK_XDIST ?= -n 4 --dist loadfile
COVERED := --cov --cov-report=term

# sam build and its checks run beside every tier, in one pool of workers: the CPU-bound unit and
# component files fill the time the stack tiers spend waiting, and the template proofs that read
# the build (handed out last) wait for `make template`'s .aws-sam/build.done. The long stack files are handed out first (xdist hands out files in the order
# given), so none of them starts last and draws out the end.
test: $(STAMP) browser
	@rm -f .aws-sam/build.done
	SHOP_REQUIRE_BUILD=1 SHOP_WAIT_FOR_BUILD=1 $(MAKE) --no-print-directory --output-sync=target -j2 template suite

suite: $(STAMP)
	npm test --silent
	$(PYTEST) $(STACK_XDIST) tests/integration tests/e2e tests/component tests/unit tests/template

unit: $(STAMP)
	$(PYTEST) tests/unit

component: $(STAMP)
	$(PYTEST) $(XDIST) tests/component

integration: $(STAMP)
	$(PYTEST) $(STACK_XDIST) tests/integration

e2e: $(STAMP) browser
	$(PYTEST) $(STACK_XDIST) tests/e2e

# Coverage of the domain modules (the shared layer and the functions) by the unit tier alone and
# by unit + component; the numbers are in docs/testing.md.
coverage: $(STAMP)
	$(PYTEST) -q tests/unit $(COVERED)
	$(PYTEST) -q $(XDIST) tests/unit tests/component $(COVERED)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	npm run lint --silent

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache test-output $(CHECKOV_VENV)

# The storefront's JS checks (eslint, node --test): dev tools from the npm registry, pinned by
# package-lock.json; nothing from node_modules is shipped (web/ has no build step).
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)
lint test suite: $(NODE_STAMP)
