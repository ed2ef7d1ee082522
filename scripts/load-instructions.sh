#!/usr/bin/env bash
# Instructions per request of `failover-webhook serve` and of the two baselines in
# tools/noop_server.rs (no-op; parse-and-echo), counted by callgrind over the whole server
# process: TLS, HTTP, the handler, the review, logging and metrics. Each server is run twice
# under valgrind, answering SHORT and then LONG requests from h2load, and the difference of
# the two totals over LONG - SHORT requests is the cost of one request, start-up excluded.
# Unlike wall-clock throughput this does not depend on what else the machine is doing.
#
#   scripts/load-instructions.sh
#   PROTOCOLS=h1 SHORT=100 LONG=1100 scripts/load-instructions.sh
#
# Needs valgrind and h2load (Debian: apt-get install valgrind nghttp2-client) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

SHORT=${SHORT:-200}
LONG=${LONG:-2200}
PORT=${PORT:-18543}
PROTOCOLS=${PROTOCOLS:-"h1 h2"}
BODY=${BODY:-tests/fixtures/admission/01-create-v1.request.json}

for tool in valgrind h2load curl; do
    command -v "$tool" >/dev/null || { echo "load-instructions.sh: $tool not found" >&2; exit 2; }
done

. scripts/lib/release-build.sh
build_release noop_server

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$WEBHOOK" certs --out "$work/certs" >/dev/null
tls=(--tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key")

# Total instructions of one server run answering $3 requests: protocol path count server...
count() {
    local proto=$1 path=$2 n=$3 out="$work/callgrind.out"
    shift 3
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" 2>"$work/valgrind.log" &
    local pid=$!
    for _ in $(seq 300); do
        curl -fsS --cacert "$work/certs/ca.crt" -o /dev/null -H 'content-type: application/json' \
            --data @"$BODY" "https://127.0.0.1:$PORT$path" 2>/dev/null && break
        sleep 0.2
    done
    local args="--h1 -c 4"
    [ "$proto" = h2 ] && args="-c 2 -m 4"
    # shellcheck disable=SC2086
    h2load $args -n "$n" -d "$BODY" -H 'content-type: application/json' \
        "https://127.0.0.1:$PORT$path" | grep -q "status codes: $n 2xx" ||
        { echo "load-instructions.sh: not every request was answered 200" >&2; kill "$pid"; exit 1; }
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    grep -o 'Collected : [0-9]*' "$work/valgrind.log" | grep -o '[0-9]*$'
}

per_request() { # protocol path name server...
    local proto=$1 path=$2 name=$3 short long
    shift 3
    short=$(count "$proto" "$path" "$SHORT" "$@")
    long=$(count "$proto" "$path" "$LONG" "$@")
    awk -v p="$proto" -v n="$name $path" -v l="$long" -v s="$short" -v d="$((LONG - SHORT))" \
        'BEGIN { printf "%-3s %-26s %9.0f instructions per request\n", p, n, (l - s) / d }'
}

echo "== instructions per request ($((LONG - SHORT)) requests; body $(wc -c <"$BODY") bytes)"
for proto in $PROTOCOLS; do
    per_request "$proto" /validate noop "$NOOP_SERVER" --listen "127.0.0.1:$PORT" "${tls[@]}"
    per_request "$proto" /validate parse-and-echo "$NOOP_SERVER" --parse --listen "127.0.0.1:$PORT" "${tls[@]}"
    for path in /validate /mutate; do
        per_request "$proto" "$path" webhook "$WEBHOOK" serve --listen "127.0.0.1:$PORT" \
            --probe-listen "127.0.0.1:$((PORT + 2))" "${tls[@]}"
    done
done
