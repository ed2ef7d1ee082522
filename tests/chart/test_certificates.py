"""The three certificate modes: what the API server trusts is what the pods serve."""

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from conftest import CHART, KUBE_VERSION, NAMESPACE, RELEASE, ROOT, RenderError, helm, one, render
from fake_apiserver import FakeApiServer

WEBHOOK_KINDS = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
# Built by `make chart-test` before the tests run; a missing binary fails the tests that need it.
BINARY = os.environ.get("FAILOVER_WEBHOOK_BIN", str(ROOT / "target" / "debug" / "failover-webhook"))


def ca_bundles(docs):
    return [one(docs, k)["webhooks"][0]["clientConfig"].get("caBundle") for k in WEBHOOK_KINDS]


def mounted_secret(docs):
    volumes = one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    return next(v for v in volumes if v["name"] == "tls")["secret"]["secretName"]


def secret_pem(secret, key):
    return base64.b64decode(secret["data"][key])


def dns_names(cert_pem: bytes) -> list[str]:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def expected_names(service: str, namespace: str) -> list[str]:
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


# --- chart-generated ------------------------------------------------------------------------


def test_generated_mode_trusts_the_ca_that_signed_the_mounted_certificate(default_docs):
    service = one(default_docs, "Service")["metadata"]["name"]
    secret = one(default_docs, "Secret")
    assert secret["type"] == "kubernetes.io/tls"
    assert mounted_secret(default_docs) == secret["metadata"]["name"]
    bundles = ca_bundles(default_docs)
    assert bundles[0] == bundles[1] == secret["data"]["ca.crt"]
    ca = x509.load_pem_x509_certificate(base64.b64decode(bundles[0]))
    cert = x509.load_pem_x509_certificate(secret_pem(secret, "tls.crt"))
    cert.verify_directly_issued_by(ca)
    assert dns_names(secret_pem(secret, "tls.crt")) == expected_names(service, NAMESPACE)


def test_certificate_names_follow_the_service_name_and_namespace():
    docs = render("--set", "fullnameOverride=fo-hook", namespace="mesh-system", release="other")
    service = one(docs, "Service")
    assert service["metadata"]["name"] == "fo-hook"
    secret = one(docs, "Secret")
    assert dns_names(secret_pem(secret, "tls.crt")) == expected_names("fo-hook", "mesh-system")
    for kind in WEBHOOK_KINDS:
        assert one(docs, kind)["webhooks"][0]["clientConfig"]["service"]["name"] == "fo-hook"


def test_each_fresh_render_generates_a_new_ca():
    """Without an existing Secret there is nothing to reuse: the test below relies on it."""
    first, second = (one(render(), "Secret")["data"]["ca.crt"] for _ in range(2))
    assert first != second


def helm_with_cluster(tmp_path, secrets):
    with FakeApiServer(secrets) as api:
        kubeconfig = tmp_path / "kubeconfig"
        api.kubeconfig(kubeconfig, NAMESPACE)
        out = helm(
            "template", RELEASE, str(CHART),
            "--namespace", NAMESPACE,
            "--kube-version", KUBE_VERSION,
            "--dry-run=server",
            "--disable-openapi-validation",
            "--kubeconfig", str(kubeconfig),
        )
        return out, api.requests


def test_upgrade_reuses_the_generated_certificate_found_by_lookup(tmp_path):
    first = render()
    stored = one(first, "Secret")
    # What the cluster holds after the first install: the Secret, owned by the release.
    stored["metadata"]["annotations"].update({
        "meta.helm.sh/release-name": RELEASE,
        "meta.helm.sh/release-namespace": NAMESPACE,
    })
    name = stored["metadata"]["name"]
    out, requests = helm_with_cluster(tmp_path, {(NAMESPACE, name): stored})
    assert f"/api/v1/namespaces/{NAMESPACE}/secrets/{name}" in requests, "helm never looked the Secret up"
    second = [d for d in yaml.safe_load_all(out) if d]
    again = one(second, "Secret")
    assert again["data"] == stored["data"]
    assert again["metadata"]["annotations"]["failover-webhook/certificate-source"] == "reused"
    assert ca_bundles(second) == [stored["data"]["ca.crt"]] * 2


def test_upgrade_without_the_secret_generates_a_new_one(tmp_path):
    out, requests = helm_with_cluster(tmp_path, {})
    assert any(r.endswith("-tls") for r in requests)
    secret = one([d for d in yaml.safe_load_all(out) if d], "Secret")
    assert secret["metadata"]["annotations"]["failover-webhook/certificate-source"] == "generated"


def test_a_secret_missing_a_key_is_not_reused(tmp_path):
    stored = one(render(), "Secret")
    stored["metadata"]["annotations"].update({
        "meta.helm.sh/release-name": RELEASE,
        "meta.helm.sh/release-namespace": NAMESPACE,
    })
    del stored["data"]["ca.crt"]
    out, _ = helm_with_cluster(tmp_path, {(NAMESPACE, stored["metadata"]["name"]): stored})
    secret = one([d for d in yaml.safe_load_all(out) if d], "Secret")
    assert secret["data"]["tls.key"] != stored["data"]["tls.key"]
    assert "ca.crt" in secret["data"]


class Server:
    """The real failover-webhook, serving the chart-generated certificate."""

    def __init__(self, cert: Path, key: Path):
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--listen", "127.0.0.1:0", "--probe-listen", "127.0.0.1:0",
             "--tls-cert", str(cert), "--tls-key", str(key), "--log-format", "json"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "RUST_LOG": "info"},
        )
        self.lines: list[str] = []
        found = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line)
                try:
                    fields = json.loads(line).get("fields", {})
                except ValueError:
                    continue
                if "listen" in fields and "probe_listen" in fields:
                    self.addr = fields["listen"]
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(30):
            self.proc.kill()
            raise AssertionError(f"the server did not start: {''.join(self.lines)}")

    def stop(self):
        self.proc.kill()
        self.proc.wait(10)


def test_the_server_serves_the_generated_certificate_to_a_client_trusting_the_ca_bundle(tmp_path, default_docs):
    secret = one(default_docs, "Secret")
    for key in ("tls.crt", "tls.key"):
        (tmp_path / key).write_bytes(secret_pem(secret, key))
    ca = base64.b64decode(ca_bundles(default_docs)[0]).decode()
    service = one(default_docs, "Service")["metadata"]["name"]
    server = Server(tmp_path / "tls.crt", tmp_path / "tls.key")
    try:
        host, port = server.addr.rsplit(":", 1)
        # As the API server does: trust only the caBundle, verify the name <service>.<ns>.svc.
        context = ssl.create_default_context(cadata=ca)
        conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
        # Dial the loopback address but verify the Service's name, as the API server does
        # through the Service's cluster IP.
        conn.sock = context.wrap_socket(
            socket.create_connection((host, int(port)), timeout=10),
            server_hostname=f"{service}.{NAMESPACE}.svc",
        )
        review = (ROOT / "examples" / "admission" / "update-port-out-of-range.json").read_bytes()
        conn.request("POST", "/validate", body=review, headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        assert answer.status == 200
        assert json.loads(answer.read())["response"]["allowed"] is False
    finally:
        server.stop()


# --- cert-manager ---------------------------------------------------------------------------


def test_cert_manager_mode_chains_issuers_and_injects_the_ca():
    docs = render("--set", "certManager.enabled=true")
    service = one(docs, "Service")["metadata"]["name"]
    assert not [d for d in docs if d["kind"] == "Secret"], "cert-manager writes the Secret"
    issuers = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Issuer"}
    certs = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Certificate"}
    assert len(issuers) == 2 and len(certs) == 2
    self_signed = next(n for n, s in issuers.items() if "selfSigned" in s)
    ca_cert = next(s for s in certs.values() if s.get("isCA"))
    assert ca_cert["issuerRef"] == {"kind": "Issuer", "name": self_signed}
    ca_issuer = next(n for n, s in issuers.items() if s.get("ca", {}).get("secretName") == ca_cert["secretName"])
    serving_name, serving = next((n, s) for n, s in certs.items() if not s.get("isCA"))
    assert serving["issuerRef"] == {"kind": "Issuer", "name": ca_issuer}
    assert serving["secretName"] == mounted_secret(docs)
    assert serving["dnsNames"] == expected_names(service, NAMESPACE)
    assert "server auth" in serving["usages"]
    for kind in WEBHOOK_KINDS:
        config = one(docs, kind)
        assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == f"{NAMESPACE}/{serving_name}"
        assert "caBundle" not in config["webhooks"][0]["clientConfig"]


# --- existing Secret ------------------------------------------------------------------------


def test_existing_secret_mode_mounts_it_and_trusts_the_given_ca():
    bundle = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    docs = render("--set", "tls.existingSecret=corp-tls", "--set", f"tls.caBundle={bundle}")
    assert mounted_secret(docs) == "corp-tls"
    assert not [d for d in docs if d["kind"] in ("Secret", "Certificate", "Issuer")]
    assert ca_bundles(docs) == [bundle, bundle]


def test_existing_secret_without_a_ca_bundle_is_refused():
    with pytest.raises(RenderError, match="tls.caBundle"):
        render("--set", "tls.existingSecret=corp-tls")


def test_two_certificate_sources_are_refused():
    with pytest.raises(RenderError, match="exclusive"):
        render("--set", "certManager.enabled=true", "--set", "tls.existingSecret=corp-tls", "--set", "tls.caBundle=eA==")


def test_every_mode_gives_the_webhooks_a_ca_bundle_or_the_inject_annotation(scenario_docs):
    for name, docs in scenario_docs.items():
        for kind in WEBHOOK_KINDS:
            config = one(docs, kind)
            injected = "cert-manager.io/inject-ca-from" in config["metadata"].get("annotations", {})
            bundle = config["webhooks"][0]["clientConfig"].get("caBundle")
            assert injected != bool(bundle), f"{name} {kind}: exactly one of caBundle or injection"
