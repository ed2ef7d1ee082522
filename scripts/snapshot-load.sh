#!/usr/bin/env bash
# Measures loading a topology snapshot: generates one with MESH_SERVICES MeshServices (four
# clusters, an Istio Mesh each, outlier detection on every service) as YAML and as JSON, then runs
# `check --snapshot SNAPSHOT examples/valid` ROUNDS times per format and prints the median CPU
# time (user + system), wall time and peak RSS, as /usr/bin/time -v reports them.
#
#   scripts/snapshot-load.sh                         # 10,000 MeshServices, 9 rounds
#   BIN=/path/to/failover-webhook scripts/snapshot-load.sh   # another build, to compare
#
# Needs python3 and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."

MESH_SERVICES=${MESH_SERVICES:-10000}
ROUNDS=${ROUNDS:-9}
BIN=${BIN:-target/release/failover-webhook}
OUT=${OUT:-$(mktemp -d)}

if [[ $BIN == target/release/failover-webhook ]]; then
    cargo build --release --locked --bin failover-webhook
fi

python3 - "$MESH_SERVICES" "$OUT" <<'EOF'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
clusters = ["mgmt-cluster", "remote-cluster", "edge-cluster", "dev-cluster"]
meta = lambda name: {"name": name, "namespace": "service-mesh-hub"}
items = []
for c in clusters:
    items.append({"apiVersion": "discovery.smh.solo.io/v1alpha1", "kind": "KubernetesCluster",
                  "metadata": meta(c), "spec": {"secretName": c, "secretNamespace": "service-mesh-hub"}})
    items.append({"apiVersion": "discovery.smh.solo.io/v1alpha1", "kind": "Mesh",
                  "metadata": meta(f"istio-istio-system-{c}"),
                  "spec": {"cluster": {"name": c, "namespace": "service-mesh-hub"},
                           "istio1_6": {"metadata": {"installation": {
                               "installationNamespace": "istio-system", "version": "1.6.8"}}}}})
for i in range(n):
    c, s = clusters[i % 4], f"svc-{i // 4}"
    m = meta(f"{s}-shop-{c}")
    m["labels"] = {"app": s}
    items.append({"apiVersion": "discovery.smh.solo.io/v1alpha1", "kind": "MeshService", "metadata": m,
                  "spec": {"kubeService": {"ref": {"name": s, "namespace": "shop", "cluster": c},
                                           "ports": [{"name": "http", "port": 9080, "protocol": "TCP"}]},
                           "mesh": {"name": f"istio-istio-system-{c}", "namespace": "service-mesh-hub"}},
                  "status": {"validatedTrafficPolicies": [{
                      "ref": {"name": "outlier", "namespace": "shop"},
                      "trafficPolicySpec": {"outlierDetection": {"consecutiveErrors": 5, "interval": "10s"}}}]}})
doc = {"apiVersion": "v1", "kind": "List", "items": items}
json.dump(doc, open(f"{out}/snapshot.json", "w"), indent=2)

# YAML as kubectl writes it: block style, two-space indent, list items not indented.
def emit(v, indent, lines, first_prefix=None):
    pad = " " * indent
    if isinstance(v, dict):
        for j, (k, x) in enumerate(v.items()):
            lead = first_prefix if (j == 0 and first_prefix is not None) else pad
            if isinstance(x, (dict, list)) and x:
                lines.append(f"{lead}{k}:")
                emit(x, indent + 2 if isinstance(x, dict) else indent, lines)
            else:
                lines.append(f"{lead}{k}: {x}")
    else:
        for x in v:
            emit(x, indent + 2, lines, first_prefix=pad + "- ")
lines = []
emit(doc, 0, lines)
open(f"{out}/snapshot.yaml", "w").write("\n".join(lines) + "\n")
EOF

for format in yaml json; do
    snapshot=$OUT/snapshot.$format
    for _ in $(seq "$ROUNDS"); do
        /usr/bin/time -f "%U %S %e %M" "$BIN" check --snapshot "$snapshot" examples/valid \
            2>&1 >/dev/null | tail -1
    done | awk '{ printf "%.2f %s %s\n", $1 + $2, $3, $4 }' | sort -n |
        awk -v f="$format" -v size="$(du -h "$snapshot" | cut -f1)" \
            '{ row[NR] = $0 } END { split(row[int((NR + 1) / 2)], m, " ");
               printf "%-4s %5s  median cpu %ss  wall %ss  peak RSS %d MiB\n", f, size, m[1], m[2], m[3] / 1024 }'
done
