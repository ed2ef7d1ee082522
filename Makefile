# failover-webhook — build, test, run.
# `make run` serves on https://127.0.0.1:8443 with dev certificates and the embedded topology;
# `make test` is what CI runs.

CARGO ?= cargo
BIN   := target/release/failover-webhook
CERTS := certs

.PHONY: all build test lint fmt run bench clean

all: build

build:
	$(CARGO) build --release --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

test: lint
	$(CARGO) test --locked

fmt:
	$(CARGO) fmt --all

$(CERTS)/tls.crt: | build
	$(BIN) certs --out $(CERTS)

run: build $(CERTS)/tls.crt
	$(BIN) serve --listen 127.0.0.1:8443 --probe-listen 127.0.0.1:8080 \
		--tls-cert $(CERTS)/tls.crt --tls-key $(CERTS)/tls.key

bench:
	$(CARGO) bench --locked --bench evaluate

clean:
	$(CARGO) clean
