#!/usr/bin/env bash
# Reproduces the figures in docs/performance.md: throughput (h2load, HTTP/1.1 keep-alive over
# TLS) and latency at a fixed request rate of `failover-webhook serve`, next to a no-op server
# built on the same stack (benches/noop_server.rs). Loopback only; every run is bounded by a
# request count.
#
#   scripts/load.sh                      # full run (a few minutes on 2 cores)
#   REQUESTS=50000 ROUNDS=1 scripts/load.sh   # quicker
#
# Needs h2load (Debian: apt-get install nghttp2-client) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-200000}      # per throughput run
CLIENTS=${CLIENTS:-16}            # h2load connections
ROUNDS=${ROUNDS:-3}               # throughput rounds, alternating servers
RATE=${RATE:-2000}                # fixed rate for the latency runs, requests/s
LAT_REQUESTS=${LAT_REQUESTS:-40000}
LAT_CONNECTIONS=${LAT_CONNECTIONS:-8}
PORT=${PORT:-18443}               # webhook; the no-op server uses PORT+1, probes PORT+2
BODY=${BODY:-tests/fixtures/admission/01-create-v1.request.json}

for tool in h2load curl; do
    command -v "$tool" >/dev/null || { echo "load.sh: $tool not found" >&2; exit 2; }
done

echo "== building (release)"
cargo build --release --bin failover-webhook
built=$(cargo bench --no-run --bench noop_server --bench latency 2>&1 | tee /dev/stderr)
NOOP=$(grep -o 'target/release/deps/noop_server-[0-9a-f]*' <<<"$built" | tail -1)
LATENCY=$(grep -o 'target/release/deps/latency-[0-9a-f]*' <<<"$built" | tail -1)
WEBHOOK=target/release/failover-webhook

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$WEBHOOK" certs --out "$work/certs" >/dev/null
"$WEBHOOK" serve --listen "127.0.0.1:$PORT" --probe-listen "127.0.0.1:$((PORT + 2))" \
    --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" 2>"$work/webhook.log" &
pids+=($!); webhook_pid=$!
"$NOOP" --listen "127.0.0.1:$((PORT + 1))" \
    --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" 2>"$work/noop.log" &
pids+=($!); noop_pid=$!

for _ in $(seq 100); do
    if curl -fsS "http://127.0.0.1:$((PORT + 2))/readyz" >/dev/null 2>&1 &&
        curl -fsS --cacert "$work/certs/ca.crt" -o /dev/null -H 'content-type: application/json' \
            --data @"$BODY" "https://127.0.0.1:$((PORT + 1))/validate" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

# CPU seconds (user + system) a process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

throughput() { # name pid port path
    local before after out
    before=$(cpu "$2")
    out=$(h2load --h1 -c "$CLIENTS" -n "$REQUESTS" -d "$BODY" -H 'content-type: application/json' \
        "https://127.0.0.1:$3$4")
    after=$(cpu "$2")
    local rps status
    rps=$(grep -o 'finished in [^,]*, [0-9.]* req/s' <<<"$out" | grep -o '[0-9.]* req/s')
    status=$(grep -o 'status codes: .*' <<<"$out")
    printf '%-18s %12s   server CPU %5.1f us/request   %s\n' "$1 $4" "$rps" \
        "$(awk -v a="$after" -v b="$before" -v n="$REQUESTS" 'BEGIN { print (a - b) * 1e6 / n }')" \
        "$status"
}

echo "== throughput: h2load --h1 -c $CLIENTS -n $REQUESTS, body $(wc -c <"$BODY") bytes"
# Warm both servers up (connections, allocator, caches) before measuring.
h2load --h1 -c "$CLIENTS" -n 20000 -d "$BODY" -H 'content-type: application/json' \
    "https://127.0.0.1:$PORT/validate" >/dev/null
h2load --h1 -c "$CLIENTS" -n 20000 -d "$BODY" -H 'content-type: application/json' \
    "https://127.0.0.1:$((PORT + 1))/validate" >/dev/null
for round in $(seq "$ROUNDS"); do
    echo "-- round $round"
    throughput noop "$noop_pid" $((PORT + 1)) /validate
    throughput webhook "$webhook_pid" "$PORT" /validate
    throughput webhook "$webhook_pid" "$PORT" /mutate
done

echo "== latency at $RATE req/s, $LAT_CONNECTIONS keep-alive connections, $LAT_REQUESTS requests"
for target in "noop $((PORT + 1)) /validate" "webhook $PORT /validate" "webhook $PORT /mutate"; do
    read -r name port path <<<"$target"
    echo "-- $name $path"
    "$LATENCY" --url "https://127.0.0.1:$port$path" --ca "$work/certs/ca.crt" --body "$BODY" \
        --rate "$RATE" --requests "$LAT_REQUESTS" --connections "$LAT_CONNECTIONS" --warmup 4000
done

echo "== webhook metrics after the runs"
curl -fsS "http://127.0.0.1:$((PORT + 2))/metrics" | grep -E '^failover_webhook_requests_total'
