"""The chart lints clean and every object it renders is valid against Kubernetes' own schemas."""

import kubernetes_validate
import pytest

from conftest import CHART, SCENARIOS, helm, kinds, render

# Schemas of this Kubernetes version (bundled by the pinned kubernetes-validate), strict: an
# unknown field is an error, as the API server's strict field validation makes it.
SCHEMA_VERSION = "1.32.0"

# Kinds defined by CRDs of other projects have no schema in the Kubernetes OpenAPI documents;
# their shape is asserted by the tests of the feature that renders them.
CRD_KINDS = {
    ("cert-manager.io/v1", "Issuer"),
    ("cert-manager.io/v1", "Certificate"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint_strict_passes(scenario):
    helm("lint", "--strict", str(CHART), *SCENARIOS[scenario])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_rendered_object_matches_the_kubernetes_schema(scenario, scenario_docs):
    docs = scenario_docs[scenario]
    assert docs, "nothing rendered"
    checked = 0
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            continue
        kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)
        checked += 1
    assert checked >= 8, f"only {checked} objects validated in {kinds(docs)}"


def test_crd_kinds_are_skipped_only_because_no_schema_exists():
    """The skip list above holds only kinds the validator truly cannot know."""
    for api_version, kind in sorted(CRD_KINDS):
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(
                {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}},
                SCHEMA_VERSION,
                strict=True,
            )


def test_the_validator_rejects_a_misspelled_field():
    """Guards the test above against a validator that accepts anything."""
    deployment = next(d for d in render() if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, SCHEMA_VERSION, strict=True)


def test_default_render_holds_exactly_the_expected_objects(default_docs):
    assert kinds(default_docs) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "MutatingWebhookConfiguration",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "ServiceAccount",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
    ]
