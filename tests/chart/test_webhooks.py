"""The webhook configurations: registered narrowly, pointing at the chart's own Service."""

import json
import re

import pytest
import yaml

from conftest import CHART, NAMESPACE, SCENARIOS, one, render

KINDS = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]


def webhook(docs, kind):
    config = one(docs, kind)
    assert len(config["webhooks"]) == 1
    return config["webhooks"][0]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("kind", KINDS)
def test_only_failoverservices_create_and_update_are_sent(scenario, kind, scenario_docs):
    hook = webhook(scenario_docs[scenario], kind)
    assert hook["rules"] == [
        {
            "apiGroups": ["networking.smh.solo.io"],
            "apiVersions": ["v1alpha1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["failoverservices"],
            "scope": "Namespaced",
        }
    ]
    assert hook["admissionReviewVersions"] == ["v1", "v1beta1"]
    assert hook["sideEffects"] == "None"
    assert hook["matchPolicy"] == "Equivalent"


@pytest.mark.parametrize("kind", KINDS)
def test_timeout_and_failure_policy_default_to_5s_and_fail(kind, default_docs):
    hook = webhook(default_docs, kind)
    assert hook["timeoutSeconds"] == 5
    assert hook["failurePolicy"] == "Fail"


def test_timeout_and_failure_policies_are_values():
    docs = render(
        "--set", "webhooks.timeoutSeconds=12",
        "--set", "webhooks.mutating.failurePolicy=Ignore",
    )
    mutating = webhook(docs, "MutatingWebhookConfiguration")
    validating = webhook(docs, "ValidatingWebhookConfiguration")
    assert (mutating["timeoutSeconds"], validating["timeoutSeconds"]) == (12, 12)
    assert mutating["failurePolicy"] == "Ignore"
    assert validating["failurePolicy"] == "Fail"


def test_only_the_mutating_webhook_is_reinvoked(default_docs):
    assert webhook(default_docs, "MutatingWebhookConfiguration")["reinvocationPolicy"] == "IfNeeded"
    assert "reinvocationPolicy" not in webhook(default_docs, "ValidatingWebhookConfiguration")


@pytest.mark.parametrize("kind,path", [(KINDS[0], "/mutate"), (KINDS[1], "/validate")])
def test_each_webhook_calls_its_path_on_the_chart_service(kind, path, default_docs):
    service = one(default_docs, "Service")
    target = webhook(default_docs, kind)["clientConfig"]["service"]
    https = next(p for p in service["spec"]["ports"] if p["name"] == "https")
    assert target == {
        "name": service["metadata"]["name"],
        "namespace": NAMESPACE,
        "path": path,
        "port": https["port"],
    }
    assert https["port"] == 443


def test_selectors_narrow_the_webhooks_when_given():
    docs = render("--set", "webhooks.namespaceSelector.matchLabels.team=mesh")
    for kind in KINDS:
        assert webhook(docs, kind)["namespaceSelector"] == {"matchLabels": {"team": "mesh"}}


def documented_example(value):
    """The selector that values.yaml's comment on `webhooks.<value>` gives as its example."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    at = next(i for i, l in enumerate(lines) if l.strip().startswith(f"{value}:"))
    comment = []
    for line in reversed(lines[:at]):
        if not line.strip().startswith("#"):
            break
        comment.insert(0, line.strip().lstrip("#").strip())
    example = re.search(r"`(\{.*\})`", " ".join(comment))
    assert example, f"no example in the comment on {value}"
    return yaml.safe_load(example.group(1))


def test_the_documented_exemptions_render_on_both_webhooks():
    """The examples in values.yaml: exempt a namespace, and let an object opt out by label."""
    namespace = documented_example("namespaceSelector")
    obj = documented_example("objectSelector")
    assert namespace == {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["legacy-mesh"]}
    ]}
    assert obj == {"matchExpressions": [
        {"key": "failover-webhook.smh.solo.io/exempt", "operator": "NotIn", "values": ["true"]}
    ]}
    docs = render(
        "--set-json", "webhooks.namespaceSelector=" + json.dumps(namespace),
        "--set-json", "webhooks.objectSelector=" + json.dumps(obj),
    )
    for kind in KINDS:
        hook = webhook(docs, kind)
        assert hook["namespaceSelector"] == namespace
        assert hook["objectSelector"] == obj


@pytest.mark.parametrize("kind", KINDS)
def test_without_selectors_every_failoverservice_is_sent(kind, default_docs):
    hook = webhook(default_docs, kind)
    assert hook["namespaceSelector"] == {} and hook["objectSelector"] == {}
