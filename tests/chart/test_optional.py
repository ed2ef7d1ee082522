"""The optional parts: NetworkPolicy, ServiceMonitor and the FailoverService CRD."""

from conftest import NAMESPACE, container, one


def test_optional_parts_are_off_by_default(default_docs):
    present = {d["kind"] for d in default_docs}
    assert not present & {"NetworkPolicy", "ServiceMonitor", "CustomResourceDefinition"}


def test_network_policy_admits_ingress_only_to_the_webhook_and_probe_ports(scenario_docs):
    docs = scenario_docs["network-policy-service-monitor"]
    policy = one(docs, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    ports = [p["port"] for rule in policy["ingress"] for p in rule["ports"]]
    assert sorted(ports) == ["probes", "webhook"]
    container_ports = {p["name"] for p in container(docs)["ports"]}
    assert set(ports) == container_ports
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()


def test_service_monitor_scrapes_the_services_metrics_port(scenario_docs):
    docs = scenario_docs["network-policy-service-monitor"]
    monitor = one(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    service = one(docs, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["port"] == "metrics"
    assert endpoint["path"] == "/metrics"


def test_crd_keeps_unknown_fields_for_the_webhook_to_judge(scenario_docs):
    crd = one(scenario_docs["crds"], "CustomResourceDefinition")
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == "failoverservices.networking.smh.solo.io"
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    spec = crd["spec"]
    assert spec["group"] == "networking.smh.solo.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "FailoverService"
    assert spec["names"]["plural"] == "failoverservices"
    [version] = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    properties = version["schema"]["openAPIV3Schema"]["properties"]
    for field in ("spec", "status"):
        assert properties[field] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Hostname": ".spec.hostname",
        "Cluster": ".spec.cluster",
        "Validation": ".status.validationStatus.state",
        "Message": ".status.validationStatus.message",
        "Age": ".metadata.creationTimestamp",
    }
    # The message only in -o wide: everything else in the default view.
    priorities = {c["name"]: c.get("priority", 0) for c in version["additionalPrinterColumns"]}
    assert priorities == {"Hostname": 0, "Cluster": 0, "Validation": 0, "Message": 1, "Age": 0}
