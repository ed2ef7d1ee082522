//! One CEL validation per spec-class rule code, in the engine's words.
//!
//! [`validation`] matches every [`RuleCode`] without a wildcard, so a new code does not compile
//! until it is given a validation here or declared out of the policy's reach (the reference and
//! conflict rules read cluster state, which CEL cannot).

use super::cel::{
    get, has, is_iana_service_name, is_label, is_set, is_subdomain, lit, protocol_pattern,
    str_malformed,
};
use super::shape;
use crate::finding::RuleCode;
use crate::rules::names::PROTOCOLS;

/// A `validations[]` entry of the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validation {
    pub code: RuleCode,
    /// True when the rule is satisfied (or does not apply).
    pub expression: String,
    /// The engine's first finding of this rule, as `field: message`. A policy's validation
    /// has no field of its own (`fieldPath` exists only in CRD validation rules), so the path
    /// leads the message, as in `failover-webhook check`.
    pub message_expression: String,
}

const SPEC: &str = "variables.spec";
const PORT: &str = "variables.port";
const SERVICES: &str = "variables.services";

/// The object is not a map, or its spec is neither a map nor null: a type error, and no spec
/// rule runs.
fn spec_malformed() -> String {
    format!(
        "(type(object) != map || ({} && type({s}) != map && type({s}) != null_type))",
        has("object", "spec"),
        s = get("object", "spec")
    )
}

/// The spec's port is set (a map) and readable.
fn port_set() -> String {
    format!(
        "(!{} && {} && type({}) == map)",
        spec_malformed(),
        has(SPEC, "port"),
        get(SPEC, "port")
    )
}

/// A quoted value, as Rust's `{:?}` writes a string without quotes, backslashes or control
/// characters.
fn quoted(s: &str) -> String {
    format!("'\"' + {s} + '\"'")
}

fn label_problem(s: &str) -> String {
    format!(
        "(size({s}) > 63 ? 'must be no more than 63 characters' : 'must consist of lowercase alphanumeric characters or \\'-\\', and must start and end with an alphanumeric character')"
    )
}

fn invalid_label(s: &str) -> String {
    format!(
        "'Invalid value: ' + {} + ': ' + {} + ' (a DNS-1123 label)'",
        quoted(s),
        label_problem(s)
    )
}

/// The validation for `code`, or `None` for a rule that reads cluster state.
pub fn validation(code: RuleCode) -> Option<Validation> {
    use RuleCode::*;
    let (expression, message_expression, field) = match code {
        HostnameRequired => (
            format!(
                "{} || {} || {}",
                spec_malformed(),
                str_malformed(SPEC, "hostname"),
                is_set(SPEC, "hostname")
            ),
            lit("Required value: the DNS name clients use to reach the failover service"),
            Some("spec.hostname"),
        ),
        HostnameInvalid => {
            let h = get(SPEC, "hostname");
            (
                format!(
                    "{} || !{} || {}",
                    spec_malformed(),
                    is_set(SPEC, "hostname"),
                    is_subdomain(&h)
                ),
                format!(
                    "'Invalid value: ' + {} + ': ' + (size({h}) > 253 ? 'must be no more than 253 characters' : {h}.contains('*') ? 'must name one host; wildcards are not allowed' : {h}.endsWith('.') ? 'must not end with a dot' : {h}.matches('[A-Z]') ? 'must be lowercase' : {h}.matches('[^.]{{64}}') ? 'each dot-separated label must be no more than 63 characters' : 'must consist of lowercase alphanumeric characters, \\'-\\' or \\'.\\', and each label must start and end with an alphanumeric character') + ' (a DNS-1123 subdomain)'",
                    quoted(&h)
                ),
                Some("spec.hostname"),
            )
        }
        PortRequired => (
            format!(
                "{} || ({} && type({}) != map && type({}) != null_type) || {}",
                spec_malformed(),
                has(SPEC, "port"),
                get(SPEC, "port"),
                get(SPEC, "port"),
                port_set()
            ),
            lit("Required value: the port the failover service listens on"),
            Some("spec.port"),
        ),
        PortNumberInvalid => {
            let n = get(PORT, "port");
            let present = has(PORT, "port");
            (
                format!(
                    "!{} || ({present} && type({n}) != int && type({n}) != double && type({n}) != null_type) || ({present} && type({n}) == int && {n} >= 1 && {n} <= 65535)",
                    port_set()
                ),
                format!(
                    "{present} && type({n}) != null_type ? 'Invalid value: ' + string({n}) + ': must be ' + (type({n}) == double ? 'an integer ' : '') + 'between 1 and 65535, inclusive' : 'Required value: must be between 1 and 65535, inclusive'"
                ),
                Some("spec.port.port"),
            )
        }
        PortNameInvalid => {
            let name = "variables.portName";
            (
                format!(
                    "!{} || {} || ({name} != '' && {})",
                    port_set(),
                    str_malformed(PORT, "name"),
                    is_iana_service_name(name)
                ),
                format!(
                    "{name} == '' ? {} : 'Invalid value: ' + {} + ': ' + ({}) + ' (an IANA service name)'",
                    lit(
                        "Required value: set a name such as \"http-api\", or a supported protocol to derive the name from"
                    ),
                    quoted(name),
                    iana_problem(name)
                ),
                Some("spec.port.name"),
            )
        }
        PortProtocolInvalid => {
            let protocol = "variables.portProtocol";
            let supported = PROTOCOLS.map(|p| format!("{p:?}")).join(", ");
            (
                format!(
                    "!{} || {} || ({protocol} != '' && {protocol}.matches({}))",
                    port_set(),
                    str_malformed(PORT, "protocol"),
                    lit(&protocol_pattern())
                ),
                format!(
                    "{protocol} == '' ? {} : 'Unsupported value: ' + {} + ': supported values: ' + {}",
                    lit(
                        "Required value: set a protocol such as \"http\", or a port name that names one, such as \"http-api\""
                    ),
                    quoted(protocol),
                    lit(&supported)
                ),
                Some("spec.port.protocol"),
            )
        }
        NamespaceRequired => (
            format!(
                "{} || {} || variables.specNamespace != ''",
                spec_malformed(),
                str_malformed(SPEC, "namespace")
            ),
            lit("Required value: the namespace in which the failover service is created"),
            Some("spec.namespace"),
        ),
        NamespaceInvalid => (
            format!(
                "{} || variables.specNamespace == '' || {}",
                spec_malformed(),
                is_label("variables.specNamespace")
            ),
            invalid_label("variables.specNamespace"),
            Some("spec.namespace"),
        ),
        ClusterRequired => (
            format!(
                "{} || {} || variables.specCluster != ''",
                spec_malformed(),
                str_malformed(SPEC, "cluster")
            ),
            lit("Required value: the registered cluster where the failover service resides"),
            Some("spec.cluster"),
        ),
        ServicesEmpty => (
            format!(
                "{} || {} || size({SERVICES}) > 0",
                spec_malformed(),
                list_malformed()
            ),
            lit("Required value: list the services to fail over between, in order of priority"),
            Some("spec.failoverServices"),
        ),
        ServiceRefInvalid => (
            format!(
                "{} || {} || {SERVICES}.all(e, type(e) != map && type(e) != null_type || (type(e) == map && {}))",
                spec_malformed(),
                list_malformed(),
                ref_fields_ok("e")
            ),
            format!(
                "(variables.indices.filter(i, i < size({SERVICES}) && (type({e}) == null_type || (type({e}) == map && !{}))).map(i, {}) + [{}])[0]",
                ref_fields_ok("variables.services[i]"),
                ref_message("variables.services[i]"),
                lit(
                    "spec.failoverServices: a service ref has an unset or malformed name, namespace or cluster"
                ),
                e = "variables.services[i]",
            ),
            None,
        ),
        ServiceDuplicate => {
            let keys = "variables.serviceKeys";
            (
                format!(
                    "{} || {} || !{keys}.exists(k, size(k) == 3 && {keys}.filter(x, x == k).size() > 1)",
                    spec_malformed(),
                    list_malformed()
                ),
                format!(
                    "(variables.indices.filter(i, i < size({keys}) && size({keys}[i]) == 3 && variables.indices.exists(j, j < i && {keys}[j] == {keys}[i])).map(i, variables.indices.filter(j, j < i && {keys}[j] == {keys}[i]).map(j, 'spec.failoverServices[' + string(i) + ']: Duplicate value: service ' + {keys}[i][0] + '.' + {keys}[i][1] + ' in cluster ' + {keys}[i][2] + ' is already listed at spec.failoverServices[' + string(j) + ']')[0]) + [{}])[0]",
                    lit("spec.failoverServices: a service ref repeats an earlier one")
                ),
                None,
            )
        }
        UnknownField => (
            shape::no_unknown_field(),
            shape::unknown_field_message(),
            None,
        ),
        TypeMismatch => (
            shape::no_type_mismatch(),
            shape::type_mismatch_message(),
            None,
        ),
        ClusterNotRegistered
        | ServiceNotFound
        | MeshNotFound
        | OutlierDetectionMissing
        | MeshNotIstio
        | MeshNotInVirtualMesh
        | MixedVirtualMeshes
        | HostnameConflict => return None,
    };
    let message_expression = match field {
        Some(field) => format!("{} + ({message_expression})", lit(&format!("{field}: "))),
        None => message_expression,
    };
    Some(Validation {
        code,
        expression,
        message_expression,
    })
}

/// `spec.failoverServices` holds a value that is neither a list nor null.
fn list_malformed() -> String {
    let v = get(SPEC, "failoverServices");
    format!(
        "({} && type({v}) != list && type({v}) != null_type)",
        has(SPEC, "failoverServices")
    )
}

/// The defaulted namespace and cluster of the entry `e` (a map), as strings.
fn ref_namespace(e: &str) -> String {
    super::cel::defaulted_str(e, "namespace", "variables.specNamespace")
}

fn ref_cluster(e: &str) -> String {
    super::cel::defaulted_str(e, "cluster", "variables.specCluster")
}

/// The name, namespace and cluster of the entry `e` (a map) are set and well-formed, or of the
/// wrong type (then a TypeMismatch).
fn ref_fields_ok(e: &str) -> String {
    let ns = ref_namespace(e);
    let cluster = ref_cluster(e);
    format!(
        "(({} || ({} && {})) && ({} || ({ns} != '' && {})) && ({} || {cluster} != ''))",
        str_malformed(e, "name"),
        is_set(e, "name"),
        is_label(&get(e, "name")),
        str_malformed(e, "namespace"),
        is_label(&ns),
        str_malformed(e, "cluster"),
    )
}

/// The first finding on the entry `e` at index `i`, with its path.
fn ref_message(e: &str) -> String {
    let at = |field: &str| format!("'spec.failoverServices[' + string(i) + '].{field}: '");
    let name = get(e, "name");
    let ns = ref_namespace(e);
    format!(
        "type({e}) == null_type ? {name_at} + 'Required value: the service\\'s name' : (!{name_bad} && !{name_set}) ? {name_at} + 'Required value: the service\\'s name' : (!{name_bad} && !{name_label}) ? {name_at} + {name_invalid} : (!{ns_bad} && {ns} == '') ? {ns_at} + 'Required value: the service\\'s namespace' : (!{ns_bad} && !{ns_label}) ? {ns_at} + {ns_invalid} : {cluster_at} + 'Required value: the service\\'s cluster'",
        name_at = at("name"),
        ns_at = at("namespace"),
        cluster_at = at("cluster"),
        name_bad = str_malformed(e, "name"),
        name_set = is_set(e, "name"),
        name_label = is_label(&name),
        name_invalid = invalid_label(&name),
        ns_bad = str_malformed(e, "namespace"),
        ns_label = is_label(&ns),
        ns_invalid = invalid_label(&ns),
    )
}

fn iana_problem(s: &str) -> String {
    format!(
        "size({s}) > 15 ? 'must be no more than 15 characters' : !{s}.matches('^[a-z0-9-]*$') ? 'must contain only lowercase alphanumeric characters or \\'-\\'' : !{s}.matches('[a-z]') ? 'must contain at least one letter' : ({s}.startsWith('-') || {s}.endsWith('-')) ? 'must not begin or end with \\'-\\'' : 'must not contain adjacent \\'-\\' characters'"
    )
}
