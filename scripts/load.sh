#!/usr/bin/env bash
# Reproduces the figures in docs/performance.md: throughput (h2load over TLS, HTTP/1.1
# keep-alive and HTTP/2) and latency at a fixed request rate of `failover-webhook serve`, next
# to two baselines on the same stack (tools/noop_server.rs): a no-op server that answers
# without reading the body, and a parse-and-echo server that parses the review into a
# serde_json::Value and answers an allow with its uid. Loopback only; every run is bounded by a
# request count.
#
#   scripts/load.sh                      # full run (a few minutes on 2 cores)
#   REQUESTS=50000 ROUNDS=1 scripts/load.sh   # quicker
#
# Needs h2load (Debian: apt-get install nghttp2-client) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-200000}      # per throughput run
CLIENTS=${CLIENTS:-16}            # h2load connections (HTTP/1.1)
H2_CLIENTS=${H2_CLIENTS:-4}       # h2load connections (HTTP/2) ...
H2_STREAMS=${H2_STREAMS:-4}       # ... and concurrent streams on each
ROUNDS=${ROUNDS:-3}               # throughput rounds, alternating servers
RATE=${RATE:-2000}                # fixed rate for the latency runs, requests/s
LAT_REQUESTS=${LAT_REQUESTS:-40000}
LAT_CONNECTIONS=${LAT_CONNECTIONS:-8}
WARMUP=${WARMUP:-20000}           # throughput warm-up requests per server
LAT_WARMUP=${LAT_WARMUP:-4000}    # latency warm-up requests per run
PORT=${PORT:-18443}               # webhook; no-op PORT+1, probes PORT+2, parse-and-echo PORT+3
PROTOCOLS=${PROTOCOLS:-"h1 h2"}
BODY=${BODY:-tests/fixtures/admission/01-create-v1.request.json}

for tool in h2load curl; do
    command -v "$tool" >/dev/null || { echo "load.sh: $tool not found" >&2; exit 2; }
done

. scripts/lib/release-build.sh
build_release noop_server latency

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
"$NOOP_SERVER" --listen "127.0.0.1:$((PORT + 1))" \
    --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" 2>"$work/noop.log" &
pids+=($!); noop_pid=$!
"$NOOP_SERVER" --parse --listen "127.0.0.1:$((PORT + 3))" \
    --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" 2>"$work/parse.log" &
pids+=($!); parse_pid=$!

for _ in $(seq 100); do
    if curl -fsS "http://127.0.0.1:$((PORT + 2))/readyz" >/dev/null 2>&1 &&
        curl -fsS --cacert "$work/certs/ca.crt" -o /dev/null -H 'content-type: application/json' \
            --data @"$BODY" "https://127.0.0.1:$((PORT + 1))/validate" 2>/dev/null &&
        curl -fsS --cacert "$work/certs/ca.crt" -o /dev/null -H 'content-type: application/json' \
            --data @"$BODY" "https://127.0.0.1:$((PORT + 3))/validate" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

# A line of /proc/PID/status, in KiB.
kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }
rss_start=$(kib "$webhook_pid" VmRSS)

# CPU seconds (user + system) a process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

h2load_args() { # protocol
    if [ "$1" = h1 ]; then echo "--h1 -c $CLIENTS"; else echo "-c $H2_CLIENTS -m $H2_STREAMS"; fi
}

results="$work/results"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
throughput() { # protocol name pid port path
    local before after out
    before=$(cpu "$3")
    # shellcheck disable=SC2046
    out=$(h2load $(h2load_args "$1") -n "$REQUESTS" -d "$BODY" -H 'content-type: application/json' \
        "https://127.0.0.1:$4$5")
    after=$(cpu "$3")
    local rps status us
    rps=$(grep -o 'finished in [^,]*, [0-9.]* req/s' <<<"$out" | grep -o '[0-9.]* req/s' | grep -o '[0-9.]*')
    status=$(grep -o 'status codes: .*' <<<"$out")
    us=$(awk -v a="$after" -v b="$before" -v n="$REQUESTS" 'BEGIN { print (a - b) * 1e6 / n }')
    printf '%-3s %-22s %10s req/s   server CPU %5.1f us/request   %s\n' "$1" "$2 $5" "$rps" "$us" "$status"
    echo "$1|$2 $5|$rps|$us" >>"$results"
}

echo "== throughput: -n $REQUESTS per run, body $(wc -c <"$BODY") bytes; h1: h2load --h1 -c $CLIENTS; h2: h2load -c $H2_CLIENTS -m $H2_STREAMS"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# Warm the servers up (connections, allocator, caches) before measuring.
for port in "$PORT" $((PORT + 1)) $((PORT + 3)); do
    h2load --h1 -c "$CLIENTS" -n "$WARMUP" -d "$BODY" -H 'content-type: application/json' \
        "https://127.0.0.1:$port/validate" >/dev/null
done
for round in $(seq "$ROUNDS"); do
    for proto in $PROTOCOLS; do
        echo "-- round $round, $proto (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        throughput "$proto" noop "$noop_pid" $((PORT + 1)) /validate
        throughput "$proto" parse-and-echo "$parse_pid" $((PORT + 3)) /validate
        throughput "$proto" webhook "$webhook_pid" "$PORT" /validate
        throughput "$proto" webhook "$webhook_pid" "$PORT" /mutate
    done
done
echo "== medians over $ROUNDS rounds (load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
for proto in $PROTOCOLS; do
    for name in "noop /validate" "parse-and-echo /validate" "webhook /validate" "webhook /mutate"; do
        rps=$(grep -F "$proto|$name|" "$results" | cut -d'|' -f3 | median)
        us=$(grep -F "$proto|$name|" "$results" | cut -d'|' -f4 | median)
        printf '%-3s %-26s %10.0f req/s   %5.1f us/request\n' "$proto" "$name" "$rps" "$us"
    done
done

echo "== latency at $RATE req/s, $LAT_CONNECTIONS keep-alive connections, $LAT_REQUESTS requests"
for target in "noop $((PORT + 1)) /validate" "parse-and-echo $((PORT + 3)) /validate" \
    "webhook $PORT /validate" "webhook $PORT /mutate"; do
    read -r name port path <<<"$target"
    echo "-- $name $path"
    "$LATENCY" --url "https://127.0.0.1:$port$path" --ca "$work/certs/ca.crt" --body "$BODY" \
        --rate "$RATE" --requests "$LAT_REQUESTS" --connections "$LAT_CONNECTIONS" --warmup "$LAT_WARMUP"
done

sleep 2
echo "== webhook resident memory: ${rss_start} KiB at start, $(kib "$webhook_pid" VmRSS) KiB two seconds after the last request (peak $(kib "$webhook_pid" VmHWM) KiB)"

echo "== webhook metrics after the runs"
curl -fsS "http://127.0.0.1:$((PORT + 2))/metrics" | grep -E '^failover_webhook_requests_total' | grep -v ' 0$'
