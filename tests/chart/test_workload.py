"""The Deployment, its Service and PodDisruptionBudget: available, restricted, drained cleanly."""

import re
import subprocess
from pathlib import Path

import pytest

from conftest import NAMESPACE, RenderError, container, one, render
from test_certificates import BINARY


def pod_spec(docs):
    return one(docs, "Deployment")["spec"]["template"]["spec"]


def arg_value(args, flag):
    return args[args.index(flag) + 1]


def port_number(ctr, name):
    return next(p["containerPort"] for p in ctr["ports"] if p["name"] == name)


def test_two_replicas_spread_across_nodes(default_docs):
    deployment = one(default_docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    by_node = next(c for c in spread if c["topologyKey"] == "kubernetes.io/hostname")
    assert by_node["maxSkew"] == 1
    assert by_node["whenUnsatisfiable"] == "DoNotSchedule"
    assert by_node["labelSelector"]["matchLabels"].items() <= pod_labels.items()
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_pod_disruption_budget_allows_one_pod_down_and_selects_the_pods(default_docs):
    pdb = one(default_docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    pod_labels = one(default_docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_no_pod_disruption_budget_for_a_single_replica():
    docs = render("--set", "replicaCount=1")
    assert not [d for d in docs if d["kind"] == "PodDisruptionBudget"]


def test_restricted_security_context(default_docs):
    pod = pod_spec(default_docs)
    ctr = container(default_docs)
    sc = ctr["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["runAsUser"] != 0 and pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_serves_kube_topology_with_json_logs_on_the_mounted_certificate(default_docs):
    ctr = container(default_docs)
    args = ctr["args"]
    assert args[0] == "serve"
    assert "--kube" in args
    assert arg_value(args, "--log-format") == "json"
    mount = next(m for m in ctr["volumeMounts"] if m["name"] == "tls")
    assert mount["readOnly"] is True
    assert "subPath" not in mount, "a subPath mount never sees a rotated Secret"
    assert arg_value(args, "--tls-cert") == f"{mount['mountPath']}/tls.crt"
    assert arg_value(args, "--tls-key") == f"{mount['mountPath']}/tls.key"


def test_probes_use_the_probe_listener(default_docs):
    ctr = container(default_docs)
    probe_port = int(arg_value(ctr["args"], "--probe-listen").rsplit(":", 1)[1])
    webhook_port = int(arg_value(ctr["args"], "--listen").rsplit(":", 1)[1])
    assert probe_port != webhook_port
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = ctr[probe]["httpGet"]
        assert get["path"] == path
        assert port_number(ctr, get["port"]) == probe_port
    assert port_number(ctr, "webhook") == webhook_port


def test_service_forwards_443_to_the_webhook_and_exposes_metrics(default_docs):
    service = one(default_docs, "Service")
    ctr = container(default_docs)
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert ports["https"]["port"] == 443
    assert port_number(ctr, ports["https"]["targetPort"]) == port_number(ctr, "webhook")
    probe_port = int(arg_value(ctr["args"], "--probe-listen").rsplit(":", 1)[1])
    assert port_number(ctr, ports["metrics"]["targetPort"]) == probe_port
    pod_labels = one(default_docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_termination_grace_exceeds_the_pre_stop_sleep_and_shutdown_grace(default_docs):
    pod = pod_spec(default_docs)
    ctr = container(default_docs)
    shutdown = int(arg_value(ctr["args"], "--shutdown-grace"))
    sleep = ctr["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > sleep + shutdown


def test_a_termination_grace_too_short_for_draining_is_refused():
    with pytest.raises(RenderError, match="terminationGracePeriodSeconds"):
        render("--set", "server.shutdownGrace=30")


def test_pod_name_and_namespace_come_from_the_downward_api(default_docs):
    env = {e["name"]: e for e in container(default_docs)["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["FAILOVER_WEBHOOK_STATUS_CONTROLLER"]["value"] == "false"


def test_status_controller_switch_is_an_environment_variable_never_a_flag():
    ctr = container(render("--set", "statusController.enabled=true"))
    assert {e["name"]: e.get("value") for e in ctr["env"]}["FAILOVER_WEBHOOK_STATUS_CONTROLLER"] == "true"
    assert not [a for a in ctr["args"] if "status" in a]


def test_requests_and_limits_are_set(default_docs):
    resources = container(default_docs)["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert "memory" in resources["limits"]


def test_scheduling_extra_args_and_env_pass_through():
    docs = render(
        "--set", "priorityClassName=system-cluster-critical",
        "--set", "nodeSelector.pool=infra",
        "--set", "tolerations[0].key=dedicated",
        "--set", "tolerations[0].operator=Exists",
        "--set", "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool",
        "--set", "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
        "--set", "extraArgs[0]=--strict-references",
        "--set", "extraEnv[0].name=FAILOVER_WEBHOOK_DEFAULT_CLUSTER",
        "--set", "extraEnv[0].value=east",
        "--set", "server.defaultCluster=west",
    )
    pod = pod_spec(docs)
    ctr = container(docs)
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["nodeSelector"] == {"pool": "infra"}
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert "nodeAffinity" in pod["affinity"]
    assert ctr["args"][-1] == "--strict-references"
    assert arg_value(ctr["args"], "--default-cluster") == "west"
    assert {"name": "FAILOVER_WEBHOOK_DEFAULT_CLUSTER", "value": "east"} in ctr["env"]


def test_image_tag_defaults_to_the_app_version(default_docs):
    chart = (Path(__file__).resolve().parents[2] / "charts" / "failover-webhook" / "Chart.yaml").read_text()
    app_version = re.search(r'^appVersion:\s*"?([^"\s]+)"?', chart, re.M).group(1)
    assert container(default_docs)["image"].endswith(f":{app_version}")


def test_every_flag_the_chart_passes_is_known_to_the_server():
    """An unknown flag stops the server at start; settings of newer versions go in env."""
    docs = render(
        "--set", "server.defaultCluster=west",
        "--set", "server.strictReferences=true",
    )
    known = subprocess.run([BINARY, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    known_flags = set(re.findall(r"^\s+(--[a-z-]+)", known, re.M))
    flags = [a for a in container(docs)["args"] if a.startswith("--")]
    assert len(flags) >= 8
    assert set(flags) <= known_flags, set(flags) - known_flags


def test_enforcement_is_passed_to_the_server_and_defaults_to_deny(default_docs):
    assert arg_value(container(default_docs)["args"], "--enforcement") == "deny"
    audit = render("--set", "server.enforcement=warn")
    assert arg_value(container(audit)["args"], "--enforcement") == "warn"
    # helm's --set splits on commas: a per-class list needs them escaped (or a values file).
    staged = render("--set", r"server.enforcement=warn\,spec=deny")
    assert arg_value(container(staged)["args"], "--enforcement") == "warn,spec=deny"


def server_refuses_enforcement(value):
    """Whether `serve` refuses `--enforcement VALUE` as a usage error (before reading any file)."""
    proc = subprocess.run(
        [BINARY, "serve", "--tls-cert", "/nonexistent", "--tls-key", "/nonexistent",
         "--enforcement", value],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2, proc.stderr
    return "invalid value" in proc.stderr


@pytest.mark.parametrize("value", ["deny", "warn", "conflict=warn", "warn,spec=deny", "reference = warn"])
def test_enforcement_values_the_chart_renders_are_ones_the_server_takes(value):
    docs = render("--set-string", "server.enforcement=" + value.replace(",", r"\,"))
    assert arg_value(container(docs)["args"], "--enforcement") == value
    assert not server_refuses_enforcement(value)


@pytest.mark.parametrize("value", ["audit", "conflicts=warn", "warn,", "Warn", "spec=deny=warn"])
def test_enforcement_values_the_server_refuses_are_refused_at_render(value):
    with pytest.raises(RenderError, match="server.enforcement"):
        render("--set-string", "server.enforcement=" + value.replace(",", r"\,"))
    assert server_refuses_enforcement(value)
