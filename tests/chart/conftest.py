"""Rendering the chart for the tests: the real helm, run on the chart in this repository."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "failover-webhook"
HELM = os.environ.get("HELM", str(ROOT / ".tools" / "bin" / "helm"))
RELEASE = "fw"
NAMESPACE = "service-mesh-hub"
# The oldest Kubernetes the chart supports is 1.30 (Chart.yaml); schemas of 1.32 are used for
# validation, so render for that version too.
KUBE_VERSION = "1.32.0"

# The value sets every test renders: the default, each certificate mode, and the optional parts.
SCENARIOS = {
    "default": [],
    "cert-manager": ["--set", "certManager.enabled=true"],
    "existing-secret": [
        "--set", "tls.existingSecret=my-tls",
        "--set", "tls.caBundle=Q0EgUEVN",
    ],
    "crds": ["--set", "crds.install=true"],
    "network-policy-service-monitor": [
        "--set", "networkPolicy.enabled=true",
        "--set", "serviceMonitor.enabled=true",
    ],
    "status-controller": ["--set", "statusController.enabled=true"],
}


class RenderError(Exception):
    """helm refused to render; the message is its standard error."""


def helm(*args: str, env: dict | None = None) -> str:
    proc = subprocess.run(
        [HELM, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise RenderError(proc.stderr)
    return proc.stdout


def render(*args: str, namespace: str = NAMESPACE, release: str = RELEASE) -> list[dict]:
    """`helm template` with the given flags, as a list of objects."""
    out = helm(
        "template", release, str(CHART),
        "--namespace", namespace,
        "--kube-version", KUBE_VERSION,
        *args,
    )
    return [d for d in yaml.safe_load_all(out) if d]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def kinds(docs: list[dict]) -> list[str]:
    return sorted(d["kind"] for d in docs)


def container(docs: list[dict]) -> dict:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    return pod["containers"][0]


@pytest.fixture(scope="session")
def default_docs() -> list[dict]:
    return render()


@pytest.fixture(scope="session")
def scenario_docs() -> dict[str, list[dict]]:
    return {name: render(*flags) for name, flags in SCENARIOS.items()}
