"""Just enough of a Kubernetes API server for `helm template --dry-run=server`: discovery of
the kinds the chart renders, and GET of the Secrets it is given. Helm's `lookup` reads a
Secret through it, which `helm template` alone never does (it renders `lookup` as empty).
"""

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (group, kind, plural, namespaced) of everything the chart renders by default.
KINDS = [
    ("", "Secret", "secrets", True),
    ("", "Service", "services", True),
    ("", "ServiceAccount", "serviceaccounts", True),
    ("apps", "Deployment", "deployments", True),
    ("policy", "PodDisruptionBudget", "poddisruptionbudgets", True),
    ("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", False),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", False),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", False),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", False),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", False),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", False),
]


class FakeApiServer:
    def __init__(self, secrets: dict[tuple[str, str], dict]):
        """`secrets` maps (namespace, name) to the Secret object a GET returns."""
        self.secrets = secrets
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                server.requests.append(self.path)
                code, body = server.answer(urllib.parse.urlparse(self.path).path.rstrip("/"))
                self.reply(code, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str) -> tuple[int, dict]:
        groups = sorted({g for g, *_ in KINDS if g})
        if path == "/version":
            return 200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "apiVersion": "v1", "versions": ["v1"]}
        if path == "/apis":
            return 200, {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
                    }
                    for g in groups
                ],
            }
        for group in ["", *groups]:
            if path == ("/api/v1" if not group else f"/apis/{group}/v1"):
                return 200, {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": f"{group}/v1" if group else "v1",
                    "resources": [
                        {"name": plural, "singularName": kind.lower(), "namespaced": namespaced,
                         "kind": kind, "verbs": ["get", "list"]}
                        for g, kind, plural, namespaced in KINDS
                        if g == group
                    ],
                }
        parts = path.split("/")
        # /api/v1/namespaces/<ns>/secrets[/<name>]
        if parts[1:3] == ["api", "v1"] and len(parts) >= 6 and parts[3] == "namespaces" and parts[5] == "secrets":
            if len(parts) == 6:
                items = [s for (ns, _), s in self.secrets.items() if ns == parts[4]]
                return 200, {"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": items}
            secret = self.secrets.get((parts[4], parts[6]))
            if secret is not None:
                return 200, secret
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}

    def kubeconfig(self, path, namespace: str) -> None:
        host, port = self.httpd.server_address
        path.write_text(json.dumps({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://{host}:{port}"}}],
            "users": [{"name": "fake", "user": {}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
            "current-context": "fake",
        }))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
