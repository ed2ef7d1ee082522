//! Rules that read cluster state: the `reference` rules (objects that may simply not be
//! discovered yet) and the `conflict` rules (certain violations).

use std::collections::{BTreeMap, BTreeSet};

use super::malformed::Malformed;
use super::names;
use crate::api::ObjectRef;
use crate::decode::Decoded;
use crate::finding::{FieldPath, Finding, RuleCode};
use crate::topology::{MeshEntry, ServiceEntry, Topology};

pub(super) fn check(
    d: &Decoded,
    m: &Malformed<'_>,
    this: &ObjectRef,
    t: &Topology,
    out: &mut Vec<Finding>,
) {
    cluster_registered(d, m, t, out);
    let resolved = resolve_services(d, m, t, out);
    virtual_meshes(&resolved, t, out);
    hostname_unique(d, m, this, t, out);
}

fn set(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

fn cluster_registered(d: &Decoded, m: &Malformed<'_>, t: &Topology, out: &mut Vec<Finding>) {
    let path = FieldPath::spec().key("cluster");
    if let Some(c) = set(&d.spec.cluster).filter(|_| !m.covers(path.as_str()))
        && !t.is_cluster_registered(c)
    {
        out.push(Finding::new(
            RuleCode::ClusterNotRegistered,
            path,
            format!("Not found: no KubernetesCluster named {c:?} is registered"),
        ));
    }
}

/// A service that resolved all the way to an Istio mesh: the only kind that takes part in the
/// VirtualMesh rules.
#[derive(Debug, PartialEq)]
struct Resolved<'t> {
    index: usize,
    service: (&'t str, &'t str),
    mesh: &'t ObjectRef,
}

/// Resolves every ref the spec rules let through ([`resolve`]) and collects those that reach an
/// Istio Mesh, reporting each ref's findings in list order.
fn resolve_services<'a>(
    d: &'a Decoded,
    m: &Malformed<'_>,
    t: &'a Topology,
    out: &mut Vec<Finding>,
) -> Vec<Resolved<'a>> {
    let list = FieldPath::spec().key("failoverServices");
    let mut resolved = Vec::new();
    if m.covers(list.as_str()) {
        return resolved;
    }
    for (i, r) in d.spec.failover_services.iter().flatten().enumerate() {
        let (Some(name), Some(namespace), Some(cluster)) =
            (set(&r.name), set(&r.namespace), set(&r.cluster))
        else {
            continue; // an incomplete ref is the spec rules' to report
        };
        if !names::is_dns1123_label(name) || !names::is_dns1123_label(namespace) {
            continue; // so is a malformed one: it could never resolve
        }
        if m.covers_built(|| list.index(i)) {
            continue;
        }
        let service = Service {
            name,
            namespace,
            cluster,
        };
        let Resolution {
            chain,
            lacks_outlier_detection,
        } = resolve(i, &service, t);
        // The MeshService is found before its Mesh, so its finding comes first.
        if lacks_outlier_detection {
            out.push(outlier_detection_missing(list.index(i), &service));
        }
        match chain {
            Ok(r) => resolved.push(r),
            Err(stop) => out.push(stop.finding(list.index(i), &service)),
        }
    }
    resolved
}

/// How far one service ref resolved.
struct Resolution<'t> {
    /// The Istio Mesh the ref resolved to, or where its chain stopped.
    chain: Result<Resolved<'t>, Stop<'t>>,
    /// Stops nothing: a service without outlier detection still resolves, and takes part in
    /// the VirtualMesh rules.
    lacks_outlier_detection: bool,
}

/// Where a ref's resolution chain stops, each with the finding it makes ([`Stop::finding`]).
#[derive(Debug, PartialEq)]
enum Stop<'t> {
    /// No MeshService stands for the service.
    ServiceNotFound,
    /// The service's MeshService names no Mesh, or one that does not exist.
    MeshNotFound(&'t ServiceEntry),
    /// The service's Mesh is of another type than Istio.
    MeshNotIstio(&'t ObjectRef, &'t MeshEntry),
}

/// Follows entry `index`, `service`, along the spec's resolution chain: the MeshService whose
/// `kubeService.ref` is the service → the Mesh it names → an Istio Mesh. Only lookups: the
/// paths and messages of findings are built from the outcome, and only for a finding.
fn resolve<'t>(index: usize, service: &Service<'t>, t: &'t Topology) -> Resolution<'t> {
    let Some(entry) = t.service(service.name, service.namespace, service.cluster) else {
        return Resolution {
            chain: Err(Stop::ServiceNotFound),
            lacks_outlier_detection: false,
        };
    };
    let chain = match entry.mesh.as_ref().map(|r| (r, t.mesh(r))) {
        None | Some((_, None)) => Err(Stop::MeshNotFound(entry)),
        Some((mesh_ref, Some(mesh))) if !mesh.mesh_type.is_istio() => {
            Err(Stop::MeshNotIstio(mesh_ref, mesh))
        }
        Some((mesh_ref, Some(_))) => Ok(Resolved {
            index,
            service: (service.name, service.namespace),
            mesh: mesh_ref,
        }),
    };
    Resolution {
        chain,
        lacks_outlier_detection: !entry.outlier_detection,
    }
}

impl Stop<'_> {
    /// The finding, at `at`, for `service`'s chain stopping here.
    fn finding(&self, at: FieldPath, service: &Service<'_>) -> Finding {
        match *self {
            Stop::ServiceNotFound => Finding::new(
                RuleCode::ServiceNotFound,
                at,
                service.message(
                    "Not found: no MeshService for service ",
                    " (discovery may not have seen it yet)",
                ),
            ),
            Stop::MeshNotFound(entry) => Finding::new(
                RuleCode::MeshNotFound,
                at,
                match &entry.mesh {
                    Some(mesh_ref) => format!(
                        "Not found: MeshService {} belongs to Mesh {mesh_ref}, which does not exist",
                        entry.mesh_service
                    ),
                    None => format!(
                        "Not found: MeshService {} names no Mesh",
                        entry.mesh_service
                    ),
                },
            ),
            Stop::MeshNotIstio(mesh_ref, mesh) => Finding::new(
                RuleCode::MeshNotIstio,
                at,
                format!(
                    "service {service} runs in Mesh {mesh_ref} ({}); failover services need Istio",
                    mesh.mesh_type
                ),
            ),
        }
    }
}

/// OutlierDetectionMissing, at `at`, for `service`.
fn outlier_detection_missing(at: FieldPath, service: &Service<'_>) -> Finding {
    Finding::new(
        RuleCode::OutlierDetectionMissing,
        at,
        service.message(
            "no validated TrafficPolicy with outlier detection applies to service ",
            ", so failover can never trigger",
        ),
    )
}

/// A service ref with all three fields set, as messages name it.
struct Service<'a> {
    name: &'a str,
    namespace: &'a str,
    cluster: &'a str,
}

impl Service<'_> {
    /// `before`, the service, `after`: one allocation, where `format!` would take a second for
    /// the service and cost more than both to run; a list of thousands of undiscovered
    /// services has one such message per entry.
    fn message(&self, before: &str, after: &str) -> String {
        let mut s = String::with_capacity(
            before.len()
                + self.name.len()
                + self.namespace.len()
                + self.cluster.len()
                + after.len()
                + ".".len()
                + " in cluster ".len(),
        );
        s.push_str(before);
        s.push_str(self.name);
        s.push('.');
        s.push_str(self.namespace);
        s.push_str(" in cluster ");
        s.push_str(self.cluster);
        s.push_str(after);
        s
    }
}

impl std::fmt::Display for Service<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{} in cluster {}",
            self.name, self.namespace, self.cluster
        )
    }
}

/// The VirtualMesh rules. Services that all sit in one Mesh need no VirtualMesh. A Mesh in no
/// VirtualMesh is reported on its services alone; the remaining Meshes must then share at least
/// one VirtualMesh.
fn virtual_meshes(resolved: &[Resolved<'_>], t: &Topology, out: &mut Vec<Finding>) {
    let meshes: BTreeSet<&ObjectRef> = resolved.iter().map(|r| r.mesh).collect();
    if meshes.len() < 2 {
        return;
    }
    let (alone, grouped): (Vec<&Resolved<'_>>, Vec<&Resolved<'_>>) = resolved
        .iter()
        .partition(|r| t.virtual_meshes_of(r.mesh).is_empty());
    mesh_not_in_virtual_mesh(&alone, meshes.len(), out);
    mixed_virtual_meshes(&grouped, t, out);
}

/// MeshNotInVirtualMesh, on each service in `alone` (whose Mesh is in no VirtualMesh), when the
/// services span `meshes` Meshes.
fn mesh_not_in_virtual_mesh(alone: &[&Resolved<'_>], meshes: usize, out: &mut Vec<Finding>) {
    if alone.is_empty() {
        return;
    }
    let list = FieldPath::spec().key("failoverServices");
    for r in alone {
        out.push(Finding::new(
            RuleCode::MeshNotInVirtualMesh,
            list.index(r.index),
            format!(
                "the services span {meshes} Meshes, but Mesh {} (of service {}.{}) is in no VirtualMesh",
                r.mesh, r.service.0, r.service.1
            ),
        ));
    }
}

/// MixedVirtualMeshes, when the Meshes of `grouped` (each in some VirtualMesh) are two or more
/// and no VirtualMesh holds them all.
fn mixed_virtual_meshes(grouped: &[&Resolved<'_>], t: &Topology, out: &mut Vec<Finding>) {
    let grouped_meshes: BTreeSet<&ObjectRef> = grouped.iter().map(|r| r.mesh).collect();
    if grouped_meshes.len() < 2 {
        return;
    }
    let mut common: Option<BTreeSet<&ObjectRef>> = None;
    for m in &grouped_meshes {
        let vms: BTreeSet<&ObjectRef> = t.virtual_meshes_of(m).iter().collect();
        common = Some(match common {
            None => vms,
            Some(c) => c.intersection(&vms).copied().collect(),
        });
    }
    if common.is_some_and(|c| !c.is_empty()) {
        return;
    }
    // Name each VirtualMesh and the services in it, so the user sees how the list splits.
    let list = FieldPath::spec().key("failoverServices");
    let mut by_vm: BTreeMap<&ObjectRef, Vec<String>> = BTreeMap::new();
    for r in grouped {
        for vm in t.virtual_meshes_of(r.mesh) {
            by_vm.entry(vm).or_default().push(format!(
                "{} ({}.{})",
                list.index(r.index),
                r.service.0,
                r.service.1
            ));
        }
    }
    let groups: Vec<String> = by_vm
        .iter()
        .map(|(vm, services)| format!("VirtualMesh {vm}: {}", services.join(", ")))
        .collect();
    out.push(Finding::new(
        RuleCode::MixedVirtualMeshes,
        list,
        format!(
            "the services' Meshes are not grouped under one common VirtualMesh; {}",
            groups.join("; ")
        ),
    ));
}

fn hostname_unique(
    d: &Decoded,
    m: &Malformed<'_>,
    this: &ObjectRef,
    t: &Topology,
    out: &mut Vec<Finding>,
) {
    let path = FieldPath::spec().key("hostname");
    let Some(host) = set(&d.spec.hostname).filter(|_| !m.covers(path.as_str())) else {
        return;
    };
    // A CREATE with generateName has no name yet: then every holder is someone else.
    let others: Vec<String> = t
        .hostname_owners(host)
        .iter()
        .filter(|o| this.name.is_empty() || *o != this)
        .map(ToString::to_string)
        .collect();
    if !others.is_empty() {
        out.push(Finding::new(
            RuleCode::HostnameConflict,
            path,
            format!(
                "Duplicate value: {host:?}: already used by FailoverService {}",
                others.join(", ")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::{Resolved, Service, Stop, resolve};
    use crate::api::ObjectRef;
    use crate::finding::RuleCode::{self, *};
    use crate::finding::{FieldPath, Finding};
    use crate::topology::{Topology, embedded};
    use serde_json::json;

    fn svc(name: &str, ns: &str, cluster: &str) -> serde_json::Value {
        json!({"name": name, "namespace": ns, "cluster": cluster})
    }

    fn services(list: &[serde_json::Value]) -> serde_json::Value {
        with(valid(), "/spec/failoverServices", json!(list))
    }

    #[test]
    fn a_valid_object_resolves_cleanly() {
        assert_eq!(all_findings(&valid()), vec![]);
    }

    #[test]
    fn cluster_not_registered() {
        let f = all_findings(&with(valid(), "/spec/cluster", json!("moon-cluster")));
        assert_eq!(f, vec![(ClusterNotRegistered, "spec.cluster".into())]);
    }

    #[test]
    fn service_not_found_for_an_undiscovered_service() {
        let f = all_findings(&with(
            valid(),
            "/spec/failoverServices/1",
            svc("checkout", "shop", "moon-cluster"),
        ));
        assert_eq!(
            f,
            vec![(ServiceNotFound, "spec.failoverServices[1]".into())]
        );
    }

    #[test]
    fn refs_are_case_sensitive() {
        let f = all_findings(&with(
            valid(),
            "/spec/failoverServices/1/cluster",
            json!("Remote-cluster"),
        ));
        assert_eq!(
            f,
            vec![(ServiceNotFound, "spec.failoverServices[1]".into())]
        );
    }

    #[test]
    fn mesh_not_found_when_the_parent_mesh_is_missing() {
        let f = all_findings(&services(&[
            svc("reviews", "bookinfo", "remote-cluster"),
            svc("details", "bookinfo", "remote-cluster"),
        ]));
        assert_eq!(f, vec![(MeshNotFound, "spec.failoverServices[1]".into())]);
    }

    #[test]
    fn outlier_detection_missing() {
        let f = all_findings(&services(&[
            svc("ratings", "bookinfo", "mgmt-cluster"),
            svc("reviews", "bookinfo", "remote-cluster"),
        ]));
        assert_eq!(
            f,
            vec![(OutlierDetectionMissing, "spec.failoverServices[0]".into())]
        );
    }

    #[test]
    fn mesh_not_istio_names_the_mesh_and_its_type_once() {
        let object = services(&[
            svc("checkout", "shop", "edge-cluster"),
            svc("productpage", "bookinfo", "edge-cluster"),
        ]);
        assert_eq!(
            all_findings(&object),
            vec![(MeshNotIstio, "spec.failoverServices[1]".into())]
        );
        let m = messages(&object).join("\n");
        assert!(
            m.contains("linkerd-linkerd-edge-cluster") && m.contains("(Linkerd)"),
            "{m}"
        );
    }

    /// A Mesh in dev-cluster whose spec has `type_key` (none when empty) besides its cluster,
    /// and a MeshService `checkout.<namespace>` in it, with outlier detection.
    fn mesh_with_type(name: &str, namespace: &str, type_key: &str) -> String {
        let type_line = if type_key.is_empty() {
            String::new()
        } else {
            format!("    {type_key}: {{}}\n")
        };
        format!(
            "apiVersion: discovery.smh.solo.io/v1alpha1
kind: Mesh
metadata: {{name: {name}, namespace: service-mesh-hub}}
spec:
    cluster: {{name: dev-cluster, namespace: service-mesh-hub}}
{type_line}---
apiVersion: discovery.smh.solo.io/v1alpha1
kind: MeshService
metadata: {{name: checkout-{namespace}-dev-cluster, namespace: service-mesh-hub}}
spec:
    kubeService: {{ref: {{name: checkout, namespace: {namespace}, cluster: dev-cluster}}}}
    mesh: {{name: {name}, namespace: service-mesh-hub}}
status:
    validatedTrafficPolicies:
    - trafficPolicySpec: {{outlierDetection: {{consecutiveErrors: 5}}}}
"
        )
    }

    #[test]
    fn mesh_not_istio_for_a_mesh_with_no_type_or_an_unknown_type() {
        for (type_key, shown) in [
            ("", "(no mesh type)"),
            ("kuma", "(unrecognised type `kuma`)"),
            ("consulConnect", "(Consul Connect)"),
            ("aws_app_mesh", "(AWS App Mesh)"),
        ] {
            let topology = embedded_and(&mesh_with_type("odd-mesh", "odd", type_key));
            let object = services(&[
                svc("checkout", "shop", "dev-cluster"),
                svc("checkout", "odd", "dev-cluster"),
            ]);
            assert_eq!(
                messages_against(&object, &topology),
                vec![format!(
                    "MeshNotIstio: spec.failoverServices[1]: service checkout.odd in cluster \
                     dev-cluster runs in Mesh service-mesh-hub/odd-mesh {shown}; failover \
                     services need Istio"
                )],
                "{type_key:?}"
            );
        }
        // The same Mesh with an Istio key is judged Istio: the finding above is the type's doing.
        let istio = embedded_and(&mesh_with_type("odd-mesh", "odd", "istio1_7"));
        let object = services(&[svc("checkout", "odd", "dev-cluster")]);
        assert_eq!(messages_against(&object, &istio), Vec::<String>::new());
    }

    /// A MeshService for `checkout.<namespace>` in dev-cluster, in the Mesh named `mesh` (none
    /// when empty), with a validated outlier-detection TrafficPolicy when `outlier_detection`.
    fn mesh_service(namespace: &str, mesh: &str, outlier_detection: bool) -> String {
        let mesh_line = if mesh.is_empty() {
            String::new()
        } else {
            format!("    mesh: {{name: {mesh}, namespace: service-mesh-hub}}\n")
        };
        let policy = if outlier_detection {
            "outlierDetection: {consecutiveErrors: 5}"
        } else {
            "retries: {attempts: 3}"
        };
        format!(
            "apiVersion: discovery.smh.solo.io/v1alpha1
kind: MeshService
metadata: {{name: checkout-{namespace}-dev-cluster, namespace: service-mesh-hub}}
spec:
    kubeService: {{ref: {{name: checkout, namespace: {namespace}, cluster: dev-cluster}}}}
{mesh_line}status:
    validatedTrafficPolicies:
    - trafficPolicySpec: {{{policy}}}
"
        )
    }

    #[test]
    fn outlier_detection_missing_comes_before_the_finding_that_stops_resolution() {
        let topology = embedded_and(&format!(
            "{}---\n{}",
            mesh_service("lost", "istio-gone-dev-cluster", false),
            mesh_service("adrift", "", false)
        ));
        let object = services(&[
            svc("checkout", "lost", "dev-cluster"),
            svc("checkout", "adrift", "dev-cluster"),
        ]);
        let no_outlier_detection = |i: usize, ns: &str| {
            format!(
                "OutlierDetectionMissing: spec.failoverServices[{i}]: no validated TrafficPolicy \
                 with outlier detection applies to service checkout.{ns} in cluster \
                 dev-cluster, so failover can never trigger"
            )
        };
        assert_eq!(
            messages_against(&object, &topology),
            vec![
                no_outlier_detection(0, "lost"),
                "MeshNotFound: spec.failoverServices[0]: Not found: MeshService \
                 service-mesh-hub/checkout-lost-dev-cluster belongs to Mesh \
                 service-mesh-hub/istio-gone-dev-cluster, which does not exist"
                    .to_owned(),
                no_outlier_detection(1, "adrift"),
                "MeshNotFound: spec.failoverServices[1]: Not found: MeshService \
                 service-mesh-hub/checkout-adrift-dev-cluster names no Mesh"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn a_service_without_outlier_detection_still_takes_part_in_virtual_mesh_rules() {
        // Only with ratings' Mesh counted do the services span two Meshes.
        let f = all_findings(&services(&[
            svc("ratings", "bookinfo", "mgmt-cluster"),
            svc("checkout", "shop", "dev-cluster"),
        ]));
        assert_eq!(
            f,
            vec![
                (OutlierDetectionMissing, "spec.failoverServices[0]".into()),
                (MeshNotInVirtualMesh, "spec.failoverServices[1]".into()),
            ]
        );
    }

    /// `name.namespace` in `cluster` resolved against `t` as entry 4 of the list: the service
    /// resolved or where its chain stopped, with the finding that stop makes, and the finding
    /// for missing outlier detection when the service lacks it.
    fn resolve_ref<'t>(
        t: &'t Topology,
        name: &'t str,
        namespace: &'t str,
        cluster: &'t str,
    ) -> (Result<Resolved<'t>, (Stop<'t>, Finding)>, Option<Finding>) {
        let service = Service {
            name,
            namespace,
            cluster,
        };
        let r = resolve(4, &service, t);
        let at = || FieldPath::from("spec.failoverServices[4]");
        (
            r.chain.map_err(|stop| {
                let finding = stop.finding(at(), &service);
                (stop, finding)
            }),
            r.lacks_outlier_detection
                .then(|| super::outlier_detection_missing(at(), &service)),
        )
    }

    fn at_entry_4(code: RuleCode, message: &str) -> Finding {
        Finding::new(code, "spec.failoverServices[4]".into(), message)
    }

    fn mesh(name: &str) -> ObjectRef {
        ObjectRef {
            name: name.to_owned(),
            namespace: "service-mesh-hub".to_owned(),
        }
    }

    #[test]
    fn resolve_reaches_the_istio_mesh_of_a_discovered_service() {
        let t = embedded();
        let (chain, outlier) = resolve_ref(&t, "checkout", "shop", "remote-cluster");
        let expected = mesh("istio-istio-system-remote-cluster");
        assert_eq!(
            chain,
            Ok(Resolved {
                index: 4,
                service: ("checkout", "shop"),
                mesh: &expected,
            })
        );
        assert_eq!(outlier, None);
    }

    #[test]
    fn resolve_stops_at_service_not_found_for_an_undiscovered_service() {
        let t = embedded();
        let (chain, outlier) = resolve_ref(&t, "checkout", "shop", "moon-cluster");
        assert_eq!(
            chain,
            Err((
                Stop::ServiceNotFound,
                at_entry_4(
                    ServiceNotFound,
                    "Not found: no MeshService for service checkout.shop in cluster \
                     moon-cluster (discovery may not have seen it yet)"
                )
            ))
        );
        assert_eq!(outlier, None);
    }

    #[test]
    fn resolve_stops_at_mesh_not_found_when_the_named_mesh_does_not_exist() {
        let t = embedded();
        let (chain, outlier) = resolve_ref(&t, "details", "bookinfo", "remote-cluster");
        let entry = t.service("details", "bookinfo", "remote-cluster");
        assert_eq!(
            chain,
            Err((
                Stop::MeshNotFound(entry.expect("in the embedded topology")),
                at_entry_4(
                    MeshNotFound,
                    "Not found: MeshService service-mesh-hub/details-bookinfo-remote-cluster \
                     belongs to Mesh service-mesh-hub/istio-canary-remote-cluster, which does \
                     not exist"
                )
            ))
        );
        assert_eq!(outlier, None);
    }

    #[test]
    fn resolve_stops_at_mesh_not_found_when_no_mesh_is_named() {
        let t = embedded_and(&mesh_service("adrift", "", true));
        let (chain, outlier) = resolve_ref(&t, "checkout", "adrift", "dev-cluster");
        let entry = t.service("checkout", "adrift", "dev-cluster");
        assert_eq!(
            chain,
            Err((
                Stop::MeshNotFound(entry.expect("added to the topology")),
                at_entry_4(
                    MeshNotFound,
                    "Not found: MeshService service-mesh-hub/checkout-adrift-dev-cluster names \
                     no Mesh"
                )
            ))
        );
        assert_eq!(outlier, None);
    }

    #[test]
    fn resolve_stops_at_mesh_not_istio() {
        let t = embedded();
        let (chain, outlier) = resolve_ref(&t, "productpage", "bookinfo", "edge-cluster");
        let linkerd = mesh("linkerd-linkerd-edge-cluster");
        assert_eq!(
            chain,
            Err((
                Stop::MeshNotIstio(&linkerd, t.mesh(&linkerd).expect("in the topology")),
                at_entry_4(
                    MeshNotIstio,
                    "service productpage.bookinfo in cluster edge-cluster runs in Mesh \
                     service-mesh-hub/linkerd-linkerd-edge-cluster (Linkerd); failover \
                     services need Istio"
                )
            ))
        );
        assert_eq!(outlier, None);
    }

    #[test]
    fn resolve_reports_missing_outlier_detection_and_still_resolves() {
        let t = embedded();
        let (chain, outlier) = resolve_ref(&t, "ratings", "bookinfo", "mgmt-cluster");
        let expected = mesh("istio-istio-system-mgmt-cluster");
        assert_eq!(
            chain,
            Ok(Resolved {
                index: 4,
                service: ("ratings", "bookinfo"),
                mesh: &expected,
            })
        );
        assert_eq!(
            outlier,
            Some(at_entry_4(
                OutlierDetectionMissing,
                "no validated TrafficPolicy with outlier detection applies to service \
                 ratings.bookinfo in cluster mgmt-cluster, so failover can never trigger"
            ))
        );
    }

    #[test]
    fn resolve_reports_missing_outlier_detection_beside_the_stop() {
        let t = embedded_and(&mesh_service("lost", "istio-gone-dev-cluster", false));
        let (chain, outlier) = resolve_ref(&t, "checkout", "lost", "dev-cluster");
        assert!(
            matches!(&chain, Err((Stop::MeshNotFound(_), f)) if f.code == MeshNotFound),
            "{chain:?}"
        );
        assert_eq!(outlier.map(|f| f.code), Some(OutlierDetectionMissing));
    }

    #[test]
    fn services_in_one_mesh_need_no_virtual_mesh() {
        let f = all_findings(&services(&[
            svc("checkout", "shop", "dev-cluster"),
            svc("checkout", "other", "dev-cluster"),
        ]));
        // Only the second service is unknown; the single-mesh case raises no VirtualMesh rule.
        assert_eq!(
            f,
            vec![(ServiceNotFound, "spec.failoverServices[1]".into())]
        );
    }

    #[test]
    fn mesh_not_in_virtual_mesh_when_services_span_meshes() {
        let f = all_findings(&services(&[
            svc("checkout", "shop", "mgmt-cluster"),
            svc("checkout", "shop", "remote-cluster"),
            svc("checkout", "shop", "dev-cluster"),
        ]));
        assert_eq!(
            f,
            vec![(MeshNotInVirtualMesh, "spec.failoverServices[2]".into())]
        );
    }

    #[test]
    fn mixed_virtual_meshes_names_each_group() {
        let object = services(&[
            svc("checkout", "shop", "mgmt-cluster"),
            svc("checkout", "shop", "edge-cluster"),
        ]);
        assert_eq!(
            all_findings(&object),
            vec![(MixedVirtualMeshes, "spec.failoverServices".into())]
        );
        let m = messages(&object).join("\n");
        assert!(
            m.contains("VirtualMesh service-mesh-hub/edge-virtual-mesh: spec.failoverServices[1] (checkout.shop)"),
            "{m}"
        );
        assert!(
            m.contains("global-virtual-mesh: spec.failoverServices[0]"),
            "{m}"
        );
    }

    #[test]
    fn a_mesh_outside_any_virtual_mesh_and_split_groups_are_both_reported() {
        let f = all_findings(&services(&[
            svc("checkout", "shop", "mgmt-cluster"),
            svc("checkout", "shop", "edge-cluster"),
            svc("checkout", "shop", "dev-cluster"),
        ]));
        assert_eq!(
            f,
            vec![
                (MeshNotInVirtualMesh, "spec.failoverServices[2]".into()),
                (MixedVirtualMeshes, "spec.failoverServices".into()),
            ]
        );
    }

    #[test]
    fn unresolvable_and_non_istio_services_take_no_part_in_virtual_mesh_rules() {
        let f = all_findings(&services(&[
            svc("checkout", "shop", "mgmt-cluster"),
            svc("productpage", "bookinfo", "edge-cluster"),
            svc("details", "bookinfo", "remote-cluster"),
            svc("nothing", "here", "mgmt-cluster"),
        ]));
        assert_eq!(
            f,
            vec![
                (MeshNotIstio, "spec.failoverServices[1]".into()),
                (MeshNotFound, "spec.failoverServices[2]".into()),
                (ServiceNotFound, "spec.failoverServices[3]".into()),
            ]
        );
    }

    #[test]
    fn each_entry_is_named_by_its_index_and_its_service_in_full() {
        let mut list: Vec<_> = (0..10)
            .map(|i| svc(&format!("svc-{i}"), "here", "mgmt-cluster"))
            .collect();
        list.extend([
            svc("ratings", "bookinfo", "mgmt-cluster"),
            svc("productpage", "bookinfo", "edge-cluster"),
            svc("details", "bookinfo", "remote-cluster"),
            svc("ratings", "bookinfo", "mgmt-cluster"),
        ]);
        let m = messages(&services(&list));
        let not_found = |i: usize| {
            format!(
                "ServiceNotFound: spec.failoverServices[{i}]: Not found: no MeshService for \
                 service svc-{i}.here in cluster mgmt-cluster (discovery may not have seen it yet)"
            )
        };
        let no_outlier_detection = |i: usize| {
            format!(
                "OutlierDetectionMissing: spec.failoverServices[{i}]: no validated TrafficPolicy \
                 with outlier detection applies to service ratings.bookinfo in cluster \
                 mgmt-cluster, so failover can never trigger"
            )
        };
        // The spec rules' findings come first, then the topology's, each in list order.
        let mut expected = vec![
            "ServiceDuplicate: spec.failoverServices[13]: Duplicate value: service \
                 ratings.bookinfo in cluster mgmt-cluster is already listed at \
                 spec.failoverServices[10]"
                .to_owned(),
        ];
        expected.extend((0..10).map(not_found));
        expected.extend([
            no_outlier_detection(10),
            "MeshNotIstio: spec.failoverServices[11]: service productpage.bookinfo in cluster \
             edge-cluster runs in Mesh service-mesh-hub/linkerd-linkerd-edge-cluster (Linkerd); \
             failover services need Istio"
                .to_owned(),
            "MeshNotFound: spec.failoverServices[12]: Not found: MeshService \
             service-mesh-hub/details-bookinfo-remote-cluster belongs to Mesh \
             service-mesh-hub/istio-canary-remote-cluster, which does not exist"
                .to_owned(),
            no_outlier_detection(13),
        ]);
        assert_eq!(m, expected);
    }

    #[test]
    fn a_malformed_ref_is_reported_once_not_also_as_not_found() {
        let f = all_findings(&with(
            valid(),
            "/spec/failoverServices/1/name",
            json!("Checkout"),
        ));
        assert_eq!(
            f,
            vec![(ServiceRefInvalid, "spec.failoverServices[1].name".into())]
        );
    }

    #[test]
    fn hostname_conflict_with_another_object_but_not_with_itself() {
        let taken = with(
            valid(),
            "/spec/hostname",
            json!("reviews.bookinfo.failover"),
        );
        assert_eq!(
            all_findings(&taken),
            vec![(HostnameConflict, "spec.hostname".into())]
        );
        let itself = with(taken.clone(), "/metadata/name", json!("reviews-failover"));
        assert_eq!(all_findings(&itself), vec![]);
        let same_name_other_ns = with(itself, "/metadata/namespace", json!("team-a"));
        assert_eq!(
            all_findings(&same_name_other_ns),
            vec![(HostnameConflict, "spec.hostname".into())]
        );
    }

    #[test]
    fn a_generate_name_create_conflicts_with_every_holder() {
        let object = without(
            with(
                valid(),
                "/spec/hostname",
                json!("reviews.bookinfo.failover"),
            ),
            "/metadata/name",
        );
        assert_eq!(
            all_findings(&object),
            vec![(HostnameConflict, "spec.hostname".into())]
        );
    }
}
