"""Least privilege: read the five kinds, and write only what the status controller needs."""

from conftest import NAMESPACE, one, render

READ = ["get", "list", "watch"]
TOPOLOGY_RULES = [
    {"apiGroups": ["discovery.smh.solo.io"], "resources": ["kubernetesclusters", "meshservices", "meshes"], "verbs": READ},
    {"apiGroups": ["networking.smh.solo.io"], "resources": ["virtualmeshes", "failoverservices"], "verbs": READ},
]


def test_cluster_role_reads_exactly_the_five_topology_kinds(default_docs):
    assert one(default_docs, "ClusterRole")["rules"] == TOPOLOGY_RULES
    assert not [d for d in default_docs if d["kind"] in ("Role", "RoleBinding")]


def test_bindings_name_the_pods_service_account(scenario_docs):
    docs = scenario_docs["status-controller"]
    account = one(docs, "ServiceAccount")["metadata"]["name"]
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == account
    for kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        binding = one(docs, kind)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role_kind,
            "name": one(docs, role_kind)["metadata"]["name"],
        }


def test_status_controller_adds_status_patch_events_and_a_lease_role(scenario_docs):
    docs = scenario_docs["status-controller"]
    assert one(docs, "ClusterRole")["rules"] == TOPOLOGY_RULES + [
        {"apiGroups": ["networking.smh.solo.io"], "resources": ["failoverservices/status"], "verbs": ["patch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    ]
    role = one(docs, "Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "patch"]}
    ]
    assert one(docs, "RoleBinding")["metadata"]["namespace"] == NAMESPACE


def test_rbac_can_be_left_to_the_operator():
    docs = render("--set", "rbac.create=false", "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=mine")
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding", "ServiceAccount")]
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "mine"
