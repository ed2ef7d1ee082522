#!/usr/bin/env bash
# End-to-end check in a throw-away kind cluster: the CRDs, the webhook watching the cluster
# (--kube), and the examples applied with kubectl. Needs docker, kind, kubectl and helm.
# Not run in CI (no container engine there). KEEP_CLUSTER=1 keeps the cluster afterwards.
set -euo pipefail

CLUSTER=${CLUSTER:-failover-webhook-e2e}
IMAGE=${IMAGE:-failover-webhook:e2e}
NAMESPACE=${NAMESPACE:-service-mesh-hub}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

for tool in docker kind kubectl helm; do
    command -v "$tool" >/dev/null || { echo "e2e: $tool is required" >&2; exit 2; }
done

cleanup() {
    if [[ "${KEEP_CLUSTER:-}" != 1 ]]; then
        kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

kind create cluster --name "$CLUSTER" --wait 120s
docker build -t "$IMAGE" "$ROOT"
kind load docker-image "$IMAGE" --name "$CLUSTER"

helm install failover-webhook "$ROOT/charts/failover-webhook" \
    --namespace "$NAMESPACE" --create-namespace \
    --set image.repository="${IMAGE%%:*}" --set image.tag="${IMAGE##*:}" \
    --set crds.install=true --wait --timeout 180s
kubectl -n "$NAMESPACE" rollout status deployment/failover-webhook --timeout=120s

fail=0
# Valid manifests are accepted...
for f in "$ROOT"/examples/valid/*.yaml; do
    if kubectl apply --dry-run=server -f "$f" >/dev/null; then
        echo "accepted as expected: $f"
    else
        echo "REJECTED, expected accepted: $f" >&2
        fail=1
    fi
done
# ...and manifests breaking a spec rule are denied by the webhook.
for f in "$ROOT"/examples/spec/*.yaml; do
    if out=$(kubectl apply --dry-run=server -f "$f" 2>&1); then
        echo "ACCEPTED, expected denied: $f" >&2
        fail=1
    elif grep -q 'denied the request\|is invalid' <<<"$out"; then
        echo "denied as expected: $f"
    else
        echo "FAILED for another reason: $f: $out" >&2
        fail=1
    fi
done

if [[ $fail != 0 ]]; then
    kubectl -n "$NAMESPACE" logs deployment/failover-webhook --tail=100 >&2 || true
    echo "e2e: FAILED" >&2
    exit 1
fi
echo "e2e: passed"
