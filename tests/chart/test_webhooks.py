"""The webhook configurations: registered narrowly, pointing at the chart's own Service."""

import pytest

from conftest import NAMESPACE, SCENARIOS, one, render

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
