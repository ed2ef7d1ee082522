"""The admission policy: `failover-webhook policy` prints objects valid, strictly, against the
Kubernetes schemas the chart is checked with, and the chart ships exactly that policy."""

import os
import subprocess

import kubernetes_validate
import pytest
import yaml

from conftest import RELEASE, ROOT, RenderError, render
from test_schemas import SCHEMA_VERSION

BINARY = os.environ.get("FAILOVER_WEBHOOK_BIN", str(ROOT / "target" / "debug" / "failover-webhook"))


def printed(*args: str) -> list[dict]:
    out = subprocess.run([BINARY, "policy", *args], check=True, capture_output=True, text=True, timeout=60)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.mark.parametrize("args", [[], ["--default-cluster", "mgmt-cluster"]])
def test_the_printed_policy_and_binding_match_the_kubernetes_schema(args):
    docs = printed(*args)
    assert [d["kind"] for d in docs] == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    for doc in docs:
        kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)


def test_the_validator_rejects_a_misspelled_policy_field():
    """Guards the test above against a validator that accepts anything."""
    policy = printed()[0]
    policy["spec"]["validations"][0]["fieldPath"] = ".spec.hostname"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(policy, SCHEMA_VERSION, strict=True)


def policy_objects(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"].startswith("ValidatingAdmissionPolicy")]


def without_names(doc: dict) -> dict:
    doc = {**doc, "metadata": {}}
    if doc["kind"] == "ValidatingAdmissionPolicyBinding":
        doc["spec"] = {**doc["spec"], "policyName": None}
    return doc


@pytest.mark.parametrize("cluster", ["", "mgmt-cluster"])
def test_the_chart_ships_the_policy_the_binary_prints(cluster):
    docs = policy_objects(render("--set", f"server.defaultCluster={cluster}"))
    expected = printed(*(["--default-cluster", cluster] if cluster else []))
    assert [without_names(d) for d in docs] == [without_names(d) for d in expected]
    policy, binding = docs
    assert binding["spec"]["policyName"] == policy["metadata"]["name"] == f"{RELEASE}-failover-webhook"
    assert policy["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE


def test_the_policy_can_be_left_out():
    assert policy_objects(render("--set", "admissionPolicy.enabled=false")) == []


def test_a_default_cluster_that_would_break_the_cel_literal_is_refused():
    with pytest.raises(RenderError, match="server.defaultCluster"):
        render("--set", "server.defaultCluster=it's")
