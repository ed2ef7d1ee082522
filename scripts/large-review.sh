#!/usr/bin/env bash
# A review of about 1 MiB: how long the webhook takes to answer it, and whether answering it
# stalls the small reviews on other connections. The review is the load-test fixture with
# ENTRIES failoverServices (none discovered, so each is a finding) and the last-applied
# annotation holding that spec again, as `kubectl apply` sends it.
#
#   1. the small fixture alone, at RATE requests/s (tools/latency.rs);
#   2. the 1 MiB review alone, at BIG_RATE requests/s over two connections;
#   3. both at once, on separate connections.
#
#   scripts/large-review.sh
#   ENDPOINT=/mutate RATE=2000 BIG_RATE=20 DURATION=20 scripts/large-review.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ENTRIES=${ENTRIES:-7000}
ENDPOINT=${ENDPOINT:-/validate}
RATE=${RATE:-2000}
BIG_RATE=${BIG_RATE:-20}
SECONDS_PER_RUN=${DURATION:-20}   # per run
PORT=${PORT:-18643}
FIXTURE=tests/fixtures/admission/01-create-v1.request.json

. scripts/lib/release-build.sh
build_release latency

work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$FIXTURE" "$ENTRIES" >"$work/large.json" <<'PY'
import json, sys
review = json.load(open(sys.argv[1]))
o = review["request"]["object"]
o["spec"]["failoverServices"] = [
    {"name": f"checkout-{i}", "namespace": "shop", "cluster": "mgmt-cluster"}
    for i in range(int(sys.argv[2]))
]
applied = {"apiVersion": o["apiVersion"], "kind": o["kind"], "spec": o["spec"],
           "metadata": {"annotations": {}, "name": o["metadata"]["name"],
                        "namespace": o["metadata"]["namespace"]}}
o["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = (
    json.dumps(applied, separators=(",", ":")) + "\n")
print(json.dumps(review, separators=(",", ":")))
PY

"$WEBHOOK" certs --out "$work/certs" >/dev/null
"$WEBHOOK" serve --listen "127.0.0.1:$PORT" --probe-listen "127.0.0.1:$((PORT + 1))" \
    --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" 2>"$work/webhook.log" &
pid=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$((PORT + 1))/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done

small() { # extra latency arguments
    "$LATENCY" --url "https://127.0.0.1:$PORT$ENDPOINT" --ca "$work/certs/ca.crt" \
        --body "$FIXTURE" --rate "$RATE" --connections 8 \
        --requests $((RATE * SECONDS_PER_RUN)) --warmup $((RATE / 2)) "$@"
}
big() {
    "$LATENCY" --url "https://127.0.0.1:$PORT$ENDPOINT" --ca "$work/certs/ca.crt" \
        --body "$work/large.json" --rate "$BIG_RATE" --connections 2 \
        --requests $((BIG_RATE * SECONDS_PER_RUN)) --warmup $((BIG_RATE / 2 + 1))
}

echo "== $ENDPOINT; the large review: $ENTRIES failoverServices, $(wc -c <"$work/large.json") bytes"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "-- 1. the fixture alone, $RATE req/s"
small
echo "-- 2. the large review alone, $BIG_RATE req/s"
big
echo "-- 3. both at once (load average $(cut -d' ' -f1-3 /proc/loadavg))"
big >"$work/big.out" &
big_pid=$!
small
wait "$big_pid"
echo "   the large review, meanwhile:"
sed 's/^/   /' "$work/big.out"
