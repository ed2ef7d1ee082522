"""`failover-webhook policy` prints objects the API server accepts: valid, strictly, against the
Kubernetes schemas the chart is checked with."""

import os
import subprocess

import kubernetes_validate
import pytest
import yaml

from conftest import ROOT
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
