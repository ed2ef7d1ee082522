//! Rules that depend on the object alone (class `spec`: they always deny).

use super::malformed::Malformed;
use super::{duplicates, names};
use crate::api::ResourceRef;
use crate::decode::Decoded;
use crate::finding::{FieldPath, Finding, RuleCode, push_index};

pub(super) fn check(d: &Decoded, m: &Malformed<'_>, out: &mut Vec<Finding>) {
    hostname(d, m, out);
    port(d, m, out);
    namespace(d, m, out);
    cluster(d, m, out);
    services(d, m, out);
}

/// A string that proto3 reads as set: present and not empty.
fn set(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Whether a rule may look at `path`: a value of the wrong type was already reported as such.
fn readable(m: &Malformed<'_>, path: &FieldPath) -> bool {
    !m.covers(path.as_str())
}

fn hostname(d: &Decoded, m: &Malformed<'_>, out: &mut Vec<Finding>) {
    let path = FieldPath::spec().key("hostname");
    if !readable(m, &path) {
        return;
    }
    match set(&d.spec.hostname) {
        None => out.push(Finding::new(
            RuleCode::HostnameRequired,
            path,
            "Required value: the DNS name clients use to reach the failover service",
        )),
        Some(h) if !names::is_dns1123_subdomain(h) => out.push(Finding::new(
            RuleCode::HostnameInvalid,
            path,
            format!(
                "Invalid value: {h:?}: {} (a DNS-1123 subdomain)",
                names::subdomain_problem(h)
            ),
        )),
        Some(_) => {}
    }
}

fn port(d: &Decoded, m: &Malformed<'_>, out: &mut Vec<Finding>) {
    let path = FieldPath::spec().key("port");
    if !readable(m, &path) {
        return;
    }
    let Some(port) = &d.spec.port else {
        out.push(Finding::new(
            RuleCode::PortRequired,
            path,
            "Required value: the port the failover service listens on",
        ));
        return;
    };

    let number = path.key("port");
    if readable(m, &number) {
        match &port.port {
            None => out.push(Finding::new(
                RuleCode::PortNumberInvalid,
                number,
                "Required value: must be between 1 and 65535, inclusive",
            )),
            Some(n) if !n.as_u64().is_some_and(|p| (1..=65535).contains(&p)) => {
                let what = if n.is_f64() { "an integer " } else { "" };
                out.push(Finding::new(
                    RuleCode::PortNumberInvalid,
                    number,
                    format!("Invalid value: {n}: must be {what}between 1 and 65535, inclusive"),
                ))
            }
            Some(_) => {}
        }
    }

    let name = path.key("name");
    if readable(m, &name) {
        match set(&port.name) {
            None => out.push(Finding::new(
                RuleCode::PortNameInvalid,
                name,
                "Required value: set a name such as \"http-api\", or a supported protocol to derive the name from",
            )),
            Some(n) => {
                if let Some(problem) = names::iana_service_name_problem(n) {
                    out.push(Finding::new(
                        RuleCode::PortNameInvalid,
                        name,
                        format!("Invalid value: {n:?}: {problem} (an IANA service name)"),
                    ));
                }
            }
        }
    }

    let protocol = path.key("protocol");
    if readable(m, &protocol) {
        match set(&port.protocol) {
            None => out.push(Finding::new(
                RuleCode::PortProtocolInvalid,
                protocol,
                "Required value: set a protocol such as \"http\", or a port name that names one, such as \"http-api\"",
            )),
            Some(p) if names::protocol(p).is_none() => out.push(Finding::new(
                RuleCode::PortProtocolInvalid,
                protocol,
                format!(
                    "Unsupported value: {p:?}: supported values: {}",
                    names::PROTOCOLS.map(|p| format!("{p:?}")).join(", ")
                ),
            )),
            Some(_) => {}
        }
    }
}

fn namespace(d: &Decoded, m: &Malformed<'_>, out: &mut Vec<Finding>) {
    let path = FieldPath::spec().key("namespace");
    if !readable(m, &path) {
        return;
    }
    match set(&d.spec.namespace) {
        None => out.push(Finding::new(
            RuleCode::NamespaceRequired,
            path,
            "Required value: the namespace in which the failover service is created",
        )),
        Some(ns) if !names::is_dns1123_label(ns) => out.push(Finding::new(
            RuleCode::NamespaceInvalid,
            path,
            format!(
                "Invalid value: {ns:?}: {} (a DNS-1123 label)",
                names::label_problem(ns)
            ),
        )),
        Some(_) => {}
    }
}

fn cluster(d: &Decoded, m: &Malformed<'_>, out: &mut Vec<Finding>) {
    let path = FieldPath::spec().key("cluster");
    if readable(m, &path) && set(&d.spec.cluster).is_none() {
        out.push(Finding::new(
            RuleCode::ClusterRequired,
            path,
            "Required value: the registered cluster where the failover service resides",
        ));
    }
}

fn services(d: &Decoded, m: &Malformed<'_>, out: &mut Vec<Finding>) {
    let path = FieldPath::spec().key("failoverServices");
    if !readable(m, &path) {
        return;
    }
    let refs = d.spec.failover_services.as_deref().unwrap_or_default();
    if refs.is_empty() {
        out.push(Finding::new(
            RuleCode::ServicesEmpty,
            path,
            "Required value: list the services to fail over between, in order of priority",
        ));
        return;
    }
    // A malformed ref that repeats an earlier one is still a duplicate: fixing only the
    // spelling would leave it one, so both are reported in the same round.
    let repeats = duplicates::repeats(
        refs.iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i, identity(m, &path, i, r)?))),
    );
    let mut repeats = repeats.into_iter().peekable();
    for (i, r) in refs.iter().enumerate() {
        if m.covers_built(|| path.index(i)) {
            continue;
        }
        ref_fields(m, &path, i, r, out);
        if let Some((_, first)) = repeats.next_if(|&(at, _)| at == i)
            && let Some((name, namespace, cluster)) = identity(m, &path, i, r)
        {
            let mut message = String::with_capacity(
                80 + name.len() + namespace.len() + cluster.len() + path.as_str().len(),
            );
            message.push_str("Duplicate value: service ");
            message.push_str(name);
            message.push('.');
            message.push_str(namespace);
            message.push_str(" in cluster ");
            message.push_str(cluster);
            message.push_str(" is already listed at ");
            push_index(&mut message, path.as_str(), first);
            out.push(Finding::new(
                RuleCode::ServiceDuplicate,
                path.index(i),
                message,
            ));
        }
    }
}

/// The fields of a service ref, with whether the spec rules check it as a DNS-1123 label.
const REF_FIELDS: [(&str, bool); 3] = [("name", true), ("namespace", true), ("cluster", false)];

fn ref_values(r: &ResourceRef) -> [&Option<String>; 3] {
    [&r.name, &r.namespace, &r.cluster]
}

/// Entry `i`'s (name, namespace, cluster) when the entry and all three fields are readable and
/// set, well-formed or not. A ref with an unset field has no identity to repeat.
fn identity<'a>(
    m: &Malformed<'_>,
    list: &FieldPath,
    i: usize,
    r: &'a ResourceRef,
) -> Option<(&'a str, &'a str, &'a str)> {
    if m.covers_built(|| list.index(i)) {
        return None;
    }
    let field = |n: usize| {
        let (key, _) = REF_FIELDS.get(n)?;
        let value = set(ref_values(r).get(n)?)?;
        (!m.covers_built(|| list.index(i).key(key))).then_some(value)
    };
    Some((field(0)?, field(1)?, field(2)?))
}

/// Checks entry `i`'s fields: each must be set, and a name or namespace a DNS-1123 label.
fn ref_fields(
    m: &Malformed<'_>,
    list: &FieldPath,
    i: usize,
    r: &ResourceRef,
    out: &mut Vec<Finding>,
) {
    for ((key, dns), value) in REF_FIELDS.into_iter().zip(ref_values(r)) {
        if m.covers_built(|| list.index(i).key(key)) {
            continue;
        }
        match set(value) {
            None => out.push(Finding::new(
                RuleCode::ServiceRefInvalid,
                list.index(i).key(key),
                format!("Required value: the service's {key}"),
            )),
            Some(v) if dns && !names::is_dns1123_label(v) => out.push(Finding::new(
                RuleCode::ServiceRefInvalid,
                list.index(i).key(key),
                format!(
                    "Invalid value: {v:?}: {} (a DNS-1123 label)",
                    names::label_problem(v)
                ),
            )),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::finding::RuleCode::*;
    use serde_json::json;

    #[test]
    fn a_valid_spec_has_no_findings() {
        assert_eq!(spec_findings(&valid()), vec![]);
    }

    #[test]
    fn hostname_required_when_unset_or_empty() {
        for v in [json!(null), json!("")] {
            let f = spec_findings(&with(valid(), "/spec/hostname", v));
            assert_eq!(f, vec![(HostnameRequired, "spec.hostname".into())]);
        }
        let f = spec_findings(&without(valid(), "/spec/hostname"));
        assert_eq!(f, vec![(HostnameRequired, "spec.hostname".into())]);
    }

    #[test]
    fn hostname_invalid_for_each_dns_violation() {
        for h in [
            "Checkout.shop",
            "*.shop.failover",
            "checkout.shop.",
            "-a.b",
            "a_b.c",
            &"a".repeat(64),
        ] {
            let f = spec_findings(&with(valid(), "/spec/hostname", json!(h)));
            assert_eq!(f, vec![(HostnameInvalid, "spec.hostname".into())], "{h}");
        }
    }

    #[test]
    fn port_required_suppresses_the_other_port_rules() {
        let f = spec_findings(&without(valid(), "/spec/port"));
        assert_eq!(f, vec![(PortRequired, "spec.port".into())]);
    }

    #[test]
    fn port_number_must_be_an_integer_in_range() {
        for n in [
            json!(0),
            json!(-1),
            json!(65536),
            json!(70000),
            json!(80.5),
            json!(null),
        ] {
            let f = spec_findings(&with(valid(), "/spec/port/port", n.clone()));
            assert_eq!(f, vec![(PortNumberInvalid, "spec.port.port".into())], "{n}");
        }
        for n in [1, 80, 65535] {
            assert_eq!(
                spec_findings(&with(valid(), "/spec/port/port", json!(n))),
                vec![]
            );
        }
    }

    #[test]
    fn a_string_port_is_a_type_error_not_an_invalid_number() {
        let f = spec_findings(&with(valid(), "/spec/port/port", json!("80")));
        assert_eq!(f, vec![(TypeMismatch, "spec.port.port".into())]);
    }

    #[test]
    fn port_name_must_be_an_iana_service_name() {
        for n in [
            "HTTP",
            "http_api",
            "-http",
            "http--a",
            "1234",
            "a-very-long-port-name",
        ] {
            let f = spec_findings(&with(valid(), "/spec/port/name", json!(n)));
            assert_eq!(f, vec![(PortNameInvalid, "spec.port.name".into())], "{n}");
        }
    }

    #[test]
    fn port_protocol_must_be_known_in_any_case() {
        assert_eq!(
            spec_findings(&with(valid(), "/spec/port/protocol", json!("HTTP2"))),
            vec![]
        );
        for p in ["http1", "h2", "sctp"] {
            let f = spec_findings(&with(valid(), "/spec/port/protocol", json!(p)));
            assert_eq!(
                f,
                vec![(PortProtocolInvalid, "spec.port.protocol".into())],
                "{p}"
            );
        }
    }

    /// The allow-list written out here, not read from the code, so dropping or misspelling
    /// an entry fails.
    const ISTIO_PROTOCOLS: [&str; 12] = [
        "tcp",
        "udp",
        "grpc",
        "grpc-web",
        "http",
        "http_proxy",
        "http2",
        "https",
        "tls",
        "mongo",
        "redis",
        "mysql",
    ];

    #[test]
    fn every_protocol_of_the_allow_list_is_accepted_in_any_case() {
        for p in ISTIO_PROTOCOLS {
            let mixed: String = p
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            for spelling in [p.to_owned(), p.to_uppercase(), mixed] {
                let f = spec_findings(&with(valid(), "/spec/port/protocol", json!(spelling)));
                assert_eq!(f, vec![], "{spelling}");
            }
        }
    }

    #[test]
    fn near_misses_of_the_allow_list_are_unsupported() {
        for p in [
            "http-proxy",
            "grpc_web",
            "grpcweb",
            "http1",
            "http3",
            "h2",
            "h2c",
            "ssl",
            "tcp ",
            " tcp",
            "mongodb",
            "sctp",
            "websocket",
        ] {
            let f = spec_findings(&with(valid(), "/spec/port/protocol", json!(p)));
            assert_eq!(
                f,
                vec![(PortProtocolInvalid, "spec.port.protocol".into())],
                "{p:?}"
            );
        }
    }

    #[test]
    fn port_name_and_protocol_are_required_when_unset_absent_null_or_empty() {
        let name = || (PortNameInvalid, "spec.port.name".to_owned());
        let protocol = || (PortProtocolInvalid, "spec.port.protocol".to_owned());
        for unset in [None, Some(json!(null)), Some(json!(""))] {
            let set_to = |field: &str| match &unset {
                None => without(valid(), &format!("/spec/port/{field}")),
                Some(v) => with(valid(), &format!("/spec/port/{field}"), v.clone()),
            };
            assert_eq!(spec_findings(&set_to("name")), vec![name()], "{unset:?}");
            assert_eq!(
                spec_findings(&set_to("protocol")),
                vec![protocol()],
                "{unset:?}"
            );
        }
        let bare = with(valid(), "/spec/port", json!({"port": 9080}));
        assert_eq!(spec_findings(&bare), vec![name(), protocol()]);
    }

    #[test]
    fn a_required_port_field_says_how_to_fix_it() {
        let bare = with(valid(), "/spec/port", json!({"port": 9080}));
        let text: Vec<String> = messages(&bare);
        assert_eq!(
            text,
            vec![
                "PortNameInvalid: spec.port.name: Required value: set a name such as \"http-api\", or a supported protocol to derive the name from",
                "PortProtocolInvalid: spec.port.protocol: Required value: set a protocol such as \"http\", or a port name that names one, such as \"http-api\"",
            ]
        );
    }

    #[test]
    fn port_zero_with_an_unknown_protocol_reports_number_name_and_protocol() {
        let f = spec_findings(&with(
            valid(),
            "/spec/port",
            json!({"port": 0, "protocol": "websocket"}),
        ));
        assert_eq!(
            f,
            vec![
                (PortNumberInvalid, "spec.port.port".into()),
                (PortNameInvalid, "spec.port.name".into()),
                (PortProtocolInvalid, "spec.port.protocol".into()),
            ]
        );
    }

    #[test]
    fn a_mistyped_port_name_or_protocol_is_only_a_type_error() {
        for field in ["name", "protocol"] {
            let at = format!("spec.port.{field}");
            let f = spec_findings(&with(valid(), &format!("/spec/port/{field}"), json!(7)));
            assert_eq!(f, vec![(TypeMismatch, at)]);
        }
    }

    #[test]
    fn namespace_required_and_invalid() {
        let f = spec_findings(&with(valid(), "/spec/namespace", json!("")));
        assert_eq!(f, vec![(NamespaceRequired, "spec.namespace".into())]);
        let f = spec_findings(&with(valid(), "/spec/namespace", json!("Shop")));
        assert_eq!(f, vec![(NamespaceInvalid, "spec.namespace".into())]);
    }

    #[test]
    fn cluster_required() {
        let f = spec_findings(&without(valid(), "/spec/cluster"));
        assert_eq!(f, vec![(ClusterRequired, "spec.cluster".into())]);
    }

    #[test]
    fn services_empty_for_an_empty_or_missing_list() {
        for v in [json!([]), json!(null)] {
            let f = spec_findings(&with(valid(), "/spec/failoverServices", v));
            assert_eq!(f, vec![(ServicesEmpty, "spec.failoverServices".into())]);
        }
    }

    #[test]
    fn service_ref_fields_must_be_set_and_well_formed() {
        let f = spec_findings(&with(
            valid(),
            "/spec/failoverServices/1",
            json!({"name": "Checkout", "namespace": "", "cluster": null}),
        ));
        assert_eq!(
            f,
            vec![
                (ServiceRefInvalid, "spec.failoverServices[1].name".into()),
                (
                    ServiceRefInvalid,
                    "spec.failoverServices[1].namespace".into()
                ),
                (ServiceRefInvalid, "spec.failoverServices[1].cluster".into()),
            ]
        );
    }

    #[test]
    fn a_repeated_service_is_reported_at_the_repeat() {
        let f = spec_findings(&with(
            valid(),
            "/spec/failoverServices/2",
            json!({"name": "checkout", "namespace": "shop", "cluster": "mgmt-cluster"}),
        ));
        assert_eq!(
            f,
            vec![(ServiceDuplicate, "spec.failoverServices[2]".into())]
        );
    }

    #[test]
    fn a_repeat_of_a_malformed_ref_is_also_a_duplicate() {
        let bad = json!({"name": "Checkout", "namespace": "shop", "cluster": "remote-cluster"});
        let object = with(
            with(valid(), "/spec/failoverServices/1", bad.clone()),
            "/spec/failoverServices/2",
            bad,
        );
        assert_eq!(
            spec_findings(&object),
            vec![
                (ServiceRefInvalid, "spec.failoverServices[1].name".into()),
                (ServiceRefInvalid, "spec.failoverServices[2].name".into()),
                (ServiceDuplicate, "spec.failoverServices[2]".into()),
            ]
        );
        let text = messages(&object);
        assert!(
            text.iter().any(|m| m.ends_with(
                "service Checkout.shop in cluster remote-cluster is already listed at spec.failoverServices[1]"
            )),
            "{text:?}"
        );
    }

    #[test]
    fn ref_findings_name_the_entry_by_its_index_in_full() {
        let mut list: Vec<_> = (0..10)
            .map(|i| json!({"name": format!("svc-{i}"), "namespace": "shop", "cluster": "c"}))
            .collect();
        list.extend([
            json!({"name": "Checkout", "namespace": "", "cluster": "c"}),
            json!({"name": "svc-3", "namespace": "shop", "cluster": "c"}),
            json!({"namespace": "-shop", "cluster": null}),
            json!({"name": "Checkout", "namespace": "", "cluster": "c"}),
            json!({"name": "Checkout", "namespace": "shop", "cluster": "c"}),
            json!({"name": "Checkout", "namespace": "shop", "cluster": "c"}),
        ]);
        let object = with(valid(), "/spec/failoverServices", json!(list));
        let at = |i: usize, field: &str| {
            format!("ServiceRefInvalid: spec.failoverServices[{i}].{field}")
        };
        let label = "must consist of lowercase alphanumeric characters or '-', and must start \
                     and end with an alphanumeric character (a DNS-1123 label)";
        let invalid_checkout = format!("Invalid value: \"Checkout\": {label}");
        let findings: Vec<String> = crate::rules::validate(
            &crate::decode::decode(&object),
            &crate::api::ObjectRef::default(),
            None,
        )
        .iter()
        .map(|f| format!("{}: {}: {}", f.code, f.field, f.message))
        .collect();
        assert_eq!(
            findings,
            vec![
                format!("{}: {invalid_checkout}", at(10, "name")),
                format!(
                    "{}: Required value: the service's namespace",
                    at(10, "namespace")
                ),
                "ServiceDuplicate: spec.failoverServices[11]: Duplicate value: service \
                 svc-3.shop in cluster c is already listed at spec.failoverServices[3]"
                    .to_owned(),
                format!("{}: Required value: the service's name", at(12, "name")),
                format!("{}: Invalid value: \"-shop\": {label}", at(12, "namespace")),
                format!(
                    "{}: Required value: the service's cluster",
                    at(12, "cluster")
                ),
                format!("{}: {invalid_checkout}", at(13, "name")),
                format!(
                    "{}: Required value: the service's namespace",
                    at(13, "namespace")
                ),
                format!("{}: {invalid_checkout}", at(14, "name")),
                format!("{}: {invalid_checkout}", at(15, "name")),
                "ServiceDuplicate: spec.failoverServices[15]: Duplicate value: service \
                 Checkout.shop in cluster c is already listed at spec.failoverServices[14]"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn refs_with_an_unset_field_are_not_compared() {
        let incomplete = json!({"name": "", "namespace": "shop", "cluster": "remote-cluster"});
        let object = with(
            with(valid(), "/spec/failoverServices/1", incomplete.clone()),
            "/spec/failoverServices/2",
            incomplete,
        );
        assert_eq!(
            spec_findings(&object),
            vec![
                (ServiceRefInvalid, "spec.failoverServices[1].name".into()),
                (ServiceRefInvalid, "spec.failoverServices[2].name".into()),
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_not_only_the_first() {
        let f = spec_findings(&json!({
            "metadata": {"name": "x", "namespace": "ns"},
            "spec": {"hostname": "Bad_Host", "port": {"port": 0, "name": "--", "protocol": "x"},
                     "namespace": "", "failoverServices": [], "extra": 1}
        }));
        let codes: Vec<_> = f.iter().map(|(c, _)| *c).collect();
        for code in [
            UnknownField,
            HostnameInvalid,
            PortNumberInvalid,
            PortNameInvalid,
            PortProtocolInvalid,
            NamespaceRequired,
            ClusterRequired,
            ServicesEmpty,
        ] {
            assert!(codes.contains(&code), "{code} missing from {codes:?}");
        }
    }
}
