//! What each rule is for, in the words `explain` prints. The match is exhaustive, so a new
//! rule code does not compile until it is explained; `tests/explain.rs` keeps the field and the
//! example in step with the README's rule table.

use crate::finding::RuleCode;

/// The documentation of one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The field path its findings name, as in the README's rule table.
    pub field: &'static str,
    /// What breaks in Service Mesh Hub when an object violates it.
    pub why: &'static str,
    /// A spec fragment that violates it.
    pub bad: &'static str,
    /// The same fragment, fixed.
    pub fixed: &'static str,
    /// The example manifest under `examples/` that shows it.
    pub example: &'static str,
}

pub fn explanation(code: RuleCode) -> Explanation {
    use RuleCode::*;
    let e = |field, why, bad, fixed, example| Explanation {
        field,
        why,
        bad,
        fixed,
        example,
    };
    match code {
        HostnameRequired => e(
            "spec.hostname",
            "The hostname is the name clients call to reach the failover service: Service Mesh \
             Hub writes it into the Istio ServiceEntry it generates. Without one there is nothing \
             to route, and the translator fails long after the object was accepted.",
            "spec:\n  port: {port: 9080, name: http}",
            "spec:\n  hostname: checkout.shop.failover\n  port: {port: 9080, name: http}",
            "spec/hostname-required.yaml",
        ),
        HostnameInvalid => e(
            "spec.hostname",
            "The hostname becomes a ServiceEntry host and a DNS name in every member cluster. \
             Istio rejects names that are not DNS-1123 subdomains, and a wildcard would capture \
             traffic meant for other services.",
            "spec:\n  hostname: \"*.shop.failover\"",
            "spec:\n  hostname: checkout.shop.failover",
            "spec/hostname-invalid.yaml",
        ),
        PortRequired => e(
            "spec.port",
            "The port is the one clients call on the hostname; the generated ServiceEntry needs \
             it. With no port the failover service cannot be translated.",
            "spec:\n  hostname: checkout.shop.failover",
            "spec:\n  hostname: checkout.shop.failover\n  port: {port: 9080, name: http}",
            "spec/port-required.yaml",
        ),
        PortNumberInvalid => e(
            "spec.port.port",
            "A TCP or UDP port is a number from 1 to 65535. Envoy cannot listen on anything else, \
             so the generated configuration would be rejected by every proxy.",
            "spec:\n  port: {port: 70000, name: http}",
            "spec:\n  port: {port: 9080, name: http}",
            "spec/port-number-invalid.yaml",
        ),
        PortNameInvalid => e(
            "spec.port.name",
            "Istio reads a port's protocol from its name, and Kubernetes and Istio require the \
             IANA service-name syntax (at most 15 characters of a-z, 0-9 and single inner \
             dashes, with a letter). A port whose name is unset and cannot be derived from its \
             protocol has none, and the generated ServiceEntry is rejected.",
            "spec:\n  port: {port: 9080, name: http_api}",
            "spec:\n  port: {port: 9080, name: http-api}",
            "spec/port-name-invalid.yaml",
        ),
        PortProtocolInvalid => e(
            "spec.port.protocol",
            "Istio picks the proxy's filter chain by protocol; a protocol it does not know, or \
             none (unset, and a name that names no protocol to derive it from), is treated as \
             opaque TCP or rejected, so HTTP failover and retries silently stop working.",
            "spec:\n  port: {port: 9080, name: web, protocol: http1}",
            "spec:\n  port: {port: 9080, name: web, protocol: http}",
            "spec/port-protocol-invalid.yaml",
        ),
        NamespaceRequired => e(
            "spec.namespace",
            "The failover service's resources are created in this namespace. The API server \
             always fills `metadata.namespace`, from which it is defaulted; an offline manifest \
             without either names no namespace at all.",
            "metadata:\n  name: checkout-failover\nspec:\n  hostname: checkout.shop.failover",
            "metadata:\n  name: checkout-failover\n  namespace: shop\nspec:\n  hostname: checkout.shop.failover",
            "spec/namespace-required.yaml",
        ),
        NamespaceInvalid => e(
            "spec.namespace",
            "A Kubernetes namespace is a DNS-1123 label (lowercase, at most 63 characters); \
             resources cannot be created in a namespace that cannot exist.",
            "spec:\n  namespace: Shop",
            "spec:\n  namespace: shop",
            "spec/namespace-invalid.yaml",
        ),
        ClusterRequired => e(
            "spec.cluster",
            "The cluster is where the failover service's ServiceEntry and EnvoyFilter are \
             written. With none (and no --default-cluster on the server) nothing is deployed.",
            "spec:\n  hostname: checkout.shop.failover",
            "spec:\n  hostname: checkout.shop.failover\n  cluster: mgmt-cluster",
            "spec/cluster-required.yaml",
        ),
        ServicesEmpty => e(
            "spec.failoverServices",
            "The list is the failover order: the first service is used while healthy, the next \
             ones take over. An empty list has nothing to send traffic to.",
            "spec:\n  failoverServices: []",
            "spec:\n  failoverServices:\n  - {name: checkout, namespace: shop, cluster: mgmt-cluster}\n  - {name: checkout, namespace: shop, cluster: remote-cluster}",
            "spec/services-empty.yaml",
        ),
        ServiceRefInvalid => e(
            "spec.failoverServices[i].name / .namespace / .cluster",
            "Each entry names a Kubernetes Service by name, namespace and cluster; Service Mesh \
             Hub matches it against discovered MeshServices, which a malformed or incomplete \
             reference can never match.",
            "spec:\n  failoverServices:\n  - {name: Checkout, namespace: shop, cluster: mgmt-cluster}",
            "spec:\n  failoverServices:\n  - {name: checkout, namespace: shop, cluster: mgmt-cluster}",
            "spec/service-ref-invalid.yaml",
        ),
        ServiceDuplicate => e(
            "spec.failoverServices[i]",
            "A service listed twice would appear twice in the failover order: the second entry \
             never takes traffic and usually hides a typo in the one that was meant. Repeated \
             entries are reported even when the reference itself is malformed.",
            "spec:\n  failoverServices:\n  - {name: checkout, namespace: shop, cluster: mgmt-cluster}\n  - {name: checkout, namespace: shop, cluster: mgmt-cluster}",
            "spec:\n  failoverServices:\n  - {name: checkout, namespace: shop, cluster: mgmt-cluster}\n  - {name: checkout, namespace: shop, cluster: remote-cluster}",
            "spec/service-duplicate.yaml",
        ),
        UnknownField => e(
            "the field's path",
            "The CRD has no schema, so the API server stores any key; the controller's strict \
             decoding then fails on it, or the misspelled setting is silently ignored. The \
             message suggests the closest known key.",
            "spec:\n  hostName: checkout.shop.failover",
            "spec:\n  hostname: checkout.shop.failover",
            "spec/unknown-field.yaml",
        ),
        TypeMismatch => e(
            "the field's path",
            "The controller decodes the spec into typed fields; a value of the wrong type (a \
             quoted number, a map where a list belongs) fails the whole object at translation \
             time.",
            "spec:\n  port: {port: \"9080\", name: http}",
            "spec:\n  port: {port: 9080, name: http}",
            "spec/type-mismatch.yaml",
        ),
        ClusterNotRegistered => e(
            "spec.cluster",
            "Service Mesh Hub only writes to clusters registered as KubernetesClusters; for any \
             other the failover service is never deployed. It warns by default because a \
             cluster may simply be registered later.",
            "spec:\n  cluster: moon-cluster",
            "spec:\n  cluster: mgmt-cluster",
            "reference/cluster-not-registered.yaml",
        ),
        ServiceNotFound => e(
            "spec.failoverServices[i]",
            "Failover sends traffic to the MeshService discovered for each entry; with none the \
             entry is dropped from the generated configuration. It warns by default because \
             discovery may not have seen a new service yet.",
            "spec:\n  failoverServices:\n  - {name: checkout, namespace: payments, cluster: mgmt-cluster}",
            "spec:\n  failoverServices:\n  - {name: checkout, namespace: shop, cluster: mgmt-cluster}",
            "reference/service-not-found.yaml",
        ),
        MeshNotFound => e(
            "spec.failoverServices[i]",
            "The service's Mesh decides how its traffic is configured and which VirtualMesh it \
             federates through; a MeshService whose Mesh is missing cannot be translated. It \
             warns by default because discovery may catch up.",
            "spec:\n  failoverServices:\n  - {name: details, namespace: bookinfo, cluster: remote-cluster}",
            "spec:\n  failoverServices:\n  - {name: reviews, namespace: bookinfo, cluster: remote-cluster}",
            "reference/mesh-not-found.yaml",
        ),
        OutlierDetectionMissing => e(
            "spec.failoverServices[i]",
            "Istio only fails over when outlier detection ejects unhealthy endpoints; without a \
             validated TrafficPolicy with outlier detection on the service, failover can never \
             trigger. It warns by default because the policy may be applied next.",
            "spec:\n  failoverServices:\n  - {name: ratings, namespace: bookinfo, cluster: mgmt-cluster}",
            "spec:\n  failoverServices:\n  - {name: reviews, namespace: bookinfo, cluster: mgmt-cluster}",
            "reference/outlier-detection-missing.yaml",
        ),
        MeshNotIstio => e(
            "spec.failoverServices[i]",
            "Service Mesh Hub implements failover with Istio resources (ServiceEntry and \
             EnvoyFilter); a service in another mesh, such as Linkerd, cannot take part.",
            "spec:\n  failoverServices:\n  - {name: productpage, namespace: bookinfo, cluster: edge-cluster}",
            "spec:\n  failoverServices:\n  - {name: reviews, namespace: bookinfo, cluster: mgmt-cluster}",
            "conflict/mesh-not-istio.yaml",
        ),
        MeshNotInVirtualMesh => e(
            "spec.failoverServices[i]",
            "Traffic can only cross meshes that a VirtualMesh federates (shared trust and \
             service discovery); a mesh in no VirtualMesh cannot receive failover traffic from \
             the others.",
            "spec:\n  failoverServices:\n  - {name: checkout, namespace: shop, cluster: mgmt-cluster}\n  - {name: checkout, namespace: shop, cluster: dev-cluster}",
            "spec:\n  failoverServices:\n  - {name: checkout, namespace: shop, cluster: mgmt-cluster}\n  - {name: checkout, namespace: shop, cluster: remote-cluster}",
            "conflict/mesh-not-in-virtual-mesh.yaml",
        ),
        MixedVirtualMeshes => e(
            "spec.failoverServices",
            "All services of a failover service must be reachable through one VirtualMesh; \
             meshes federated by different VirtualMeshes share no trust domain, so the failover \
             endpoints are unreachable from each other.",
            "spec:\n  failoverServices:\n  - {name: checkout, namespace: shop, cluster: mgmt-cluster}\n  - {name: checkout, namespace: shop, cluster: edge-cluster}",
            "spec:\n  failoverServices:\n  - {name: checkout, namespace: shop, cluster: mgmt-cluster}\n  - {name: checkout, namespace: shop, cluster: remote-cluster}",
            "conflict/mixed-virtual-meshes.yaml",
        ),
        HostnameConflict => e(
            "spec.hostname",
            "Two failover services with one hostname would generate two ServiceEntries for the \
             same host; Istio merges or drops one of them, and traffic goes to whichever wins.",
            "spec:\n  hostname: reviews.bookinfo.failover   # already used by reviews-failover",
            "spec:\n  hostname: reviews-canary.bookinfo.failover",
            "conflict/hostname-conflict.yaml",
        ),
    }
}
