#!/usr/bin/env bash
# Loads a large topology snapshot and reports what it costs: generates MESH_SERVICES
# MeshServices over 50 clusters (one Istio Mesh each, one VirtualMesh of all of them, outlier
# detection on every service) as `kubectl get … -o json` and `-o yaml` write them (one
# `kind: List`), then per format:
#
#   serve --snapshot   time from process start to /readyz answering 200, RSS once ready and
#                      SETTLE seconds later (from /proc/PID/status), and the peak (VmHWM);
#   check --snapshot   wall time and peak RSS (GNU time), judging examples/valid.
#
# Each is run ROUNDS times; the median of each figure is printed.
#
#   scripts/scale-bench.sh                              # 100,000 MeshServices, 3 rounds
#   MESH_SERVICES=1000000 ROUNDS=1 scripts/scale-bench.sh
#   FORMATS=json scripts/scale-bench.sh                 # one format only
#   BIN=/path/to/failover-webhook scripts/scale-bench.sh   # another build, to compare
#
# Needs python3, bash (for /dev/tcp) and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."

MESH_SERVICES=${MESH_SERVICES:-100000}
ROUNDS=${ROUNDS:-3}
FORMATS=${FORMATS:-json yaml}
SETTLE=${SETTLE:-2}
PORT=${PORT:-18543}
BIN=${BIN:-target/release/failover-webhook}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

if [[ $BIN == target/release/failover-webhook ]]; then
    cargo build --release --locked --bin failover-webhook
fi

python3 - "$MESH_SERVICES" "$OUT" "$FORMATS" <<'EOF'
import json, sys
n, out, formats = int(sys.argv[1]), sys.argv[2], sys.argv[3].split()
clusters = [f"cluster-{c:02d}" for c in range(50)]
ns = "service-mesh-hub"
def meta(name, i, labels=None):
    m = {"creationTimestamp": "2026-11-20T10:00:00Z", "generation": 1, "name": name,
         "namespace": ns, "resourceVersion": str(100000 + i),
         "uid": f"6f1c2d3e-0000-4000-8000-{i:012d}"}
    if labels:
        m["labels"] = labels
    return m
def items():
    api = "discovery.smh.solo.io/v1alpha1"
    for i, c in enumerate(clusters):
        yield {"apiVersion": api, "kind": "KubernetesCluster", "metadata": meta(c, i),
               "spec": {"secretName": c, "secretNamespace": ns}}
        yield {"apiVersion": api, "kind": "Mesh", "metadata": meta(f"istio-istio-system-{c}", i),
               "spec": {"cluster": {"name": c, "namespace": ns},
                        "istio1_6": {"metadata": {"installation": {
                            "installationNamespace": "istio-system", "version": "1.6.8"}}}}}
    yield {"apiVersion": "networking.smh.solo.io/v1alpha1", "kind": "VirtualMesh",
           "metadata": meta("global", 0),
           "spec": {"meshes": [{"name": f"istio-istio-system-{c}", "namespace": ns} for c in clusters]}}
    for i in range(n):
        c, s = clusters[i % 50], f"svc-{i // 50}"
        yield {"apiVersion": api, "kind": "MeshService",
               "metadata": meta(f"{s}-shop-{c}", i, {"app": s, "cluster": c}),
               "spec": {"kubeService": {"ref": {"name": s, "namespace": "shop", "cluster": c},
                                        "ports": [{"name": "http", "port": 9080, "protocol": "TCP"}],
                                        "workloadSelectorLabels": {"app": s}},
                        "mesh": {"name": f"istio-istio-system-{c}", "namespace": ns}},
               "status": {"observedGeneration": 1, "validatedTrafficPolicies": [{
                   "ref": {"name": "outlier", "namespace": "shop"},
                   "trafficPolicySpec": {"outlierDetection": {"consecutiveErrors": 5, "interval": "10s"}}}]}}

# Written item by item, so a million services never sit in memory at once.
if "json" in formats:
    with open(f"{out}/snapshot.json", "w") as f:
        f.write('{\n    "apiVersion": "v1",\n    "items": [\n')
        for j, item in enumerate(items()):
            text = json.dumps(item, indent=4)
            f.write((",\n" if j else "") + "\n".join("        " + l for l in text.split("\n")))
        f.write('\n    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n')

# YAML as kubectl writes it: block style, two-space indent, list items not indented.
def emit(v, indent, lines, first_prefix=None):
    pad = " " * indent
    if isinstance(v, dict):
        for j, (k, x) in enumerate(v.items()):
            lead = first_prefix if (j == 0 and first_prefix is not None) else pad
            if isinstance(x, (dict, list)) and x:
                lines.append(f"{lead}{k}:")
                emit(x, indent + 2 if isinstance(x, dict) else indent, lines)
            elif isinstance(x, str):
                lines.append(f'{lead}{k}: "{x}"' if x == "" or x[0].isdigit() else f"{lead}{k}: {x}")
            else:
                lines.append(f"{lead}{k}: {x}")
    else:
        for x in v:
            emit(x, indent + 2, lines, first_prefix=pad + "- ")
if "yaml" in formats:
    with open(f"{out}/snapshot.yaml", "w") as f:
        f.write("apiVersion: v1\nitems:\n")
        for item in items():
            lines = []
            emit(item, 0, lines, first_prefix="- ")
            f.write("\n".join(("  " + l if not l.startswith("- ") else l) for l in lines) + "\n")
        f.write('kind: List\nmetadata:\n  resourceVersion: ""\n')
EOF

"$BIN" certs --force --out "$OUT/certs" >/dev/null

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

ready_now() {
    local status
    { exec 3<>"/dev/tcp/127.0.0.1/$((PORT + 1))"; } 2>/dev/null || return 1
    printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3
    read -r _ status _ <&3 || true
    exec 3>&-
    [[ $status == 200 ]]
}

serve_once() {
    local snapshot=$1 start pid ready rss_ready rss_settled peak
    start=$(date +%s.%N)
    "$BIN" serve --listen "127.0.0.1:$PORT" --probe-listen "127.0.0.1:$((PORT + 1))" \
        --tls-cert "$OUT/certs/tls.crt" --tls-key "$OUT/certs/tls.key" \
        --snapshot "$snapshot" 2>"$OUT/serve.log" &
    pid=$!
    # Polled over bash's own TCP socket: a `curl` process every 20 ms took CPU from the
    # process being timed, and on a loaded machine that showed in its time to ready.
    until ready_now; do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$OUT/serve.log" >&2
            exit 1
        fi
        sleep 0.02
    done
    ready=$(date +%s.%N)
    rss_ready=$(kib "$pid" VmRSS)
    sleep "$SETTLE"
    rss_settled=$(kib "$pid" VmRSS)
    peak=$(kib "$pid" VmHWM)
    kill "$pid"
    wait "$pid" || true
    echo "$(echo "$ready - $start" | bc) $rss_ready $rss_settled $peak"
}

printf '%s MeshServices, 50 clusters, median of %s rounds\n' "$MESH_SERVICES" "$ROUNDS"
for format in $FORMATS; do
    snapshot=$OUT/snapshot.$format
    size=$(du -h "$snapshot" | cut -f1)
    serve_runs=$(for _ in $(seq "$ROUNDS"); do serve_once "$snapshot"; done)
    check_runs=$(for _ in $(seq "$ROUNDS"); do
        /usr/bin/time -f "%e %M" "$BIN" check --snapshot "$snapshot" examples/valid \
            2>&1 >/dev/null | tail -1
    done)
    col() { awk -v c="$2" '{ print $c }' <<<"$1" | median; }
    printf '%-4s %5s  serve: ready %ss, RSS at ready %d MiB, %ss later %d MiB, peak %d MiB\n' \
        "$format" "$size" "$(col "$serve_runs" 1)" "$(($(col "$serve_runs" 2) / 1024))" \
        "$SETTLE" "$(($(col "$serve_runs" 3) / 1024))" "$(($(col "$serve_runs" 4) / 1024))"
    printf '%-4s %5s  check: wall %ss, peak %d MiB\n' \
        "$format" "$size" "$(col "$check_runs" 1)" "$(($(col "$check_runs" 2) / 1024))"
done
