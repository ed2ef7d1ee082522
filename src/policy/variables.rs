//! The policy's `variables`: the spec after the defaults of the mutating webhook, so the
//! validations judge what the engine judges, and `unchanged`, the UPDATE ratchet.
//!
//! Variables that only read the spec hold values that are always safe to read: a map, a list
//! or a string (`''` for "unset or not a string"); whether a field had the wrong type is asked
//! of the object itself.

use super::cel::{
    defaulted_str, defaulted_wrapped, get, has, is_set, is_str, lit, protocol_pattern,
    protocol_prefix_pattern, same_except, wrapped,
};

/// How many `failoverServices` entries the ratchet compares one by one, and the messages name
/// by index. CEL of the API server before 1.34 has no index iteration, so indices come from a
/// literal list; longer lists are compared whole, before defaulting (see the README).
pub const INDEXED_ENTRIES: usize = 64;

/// The variables, in evaluation order (each may read the ones before it).
pub(crate) fn variables(default_cluster: &str) -> Vec<(String, String)> {
    let indices: Vec<String> = (0..INDEXED_ENTRIES).map(|i| i.to_string()).collect();
    let mut vars = vec![
        ("indices".to_owned(), format!("[{}]", indices.join(", "))),
        ("clusterDefault".to_owned(), lit(default_cluster)),
        // The API server sets metadata.namespace from the request's before admission.
        (
            "namespaceDefault".to_owned(),
            "type(request.namespace) == string ? request.namespace : ''".to_owned(),
        ),
    ];
    side(&mut vars, "object", "", Side::Judged);
    side(&mut vars, "oldObject", "old", Side::Compared);
    vars.push(("unchanged".to_owned(), unchanged()));
    vars
}

/// The variable name `name` with the side's prefix: `spec`, `oldSpec`.
fn var(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        let mut c = name.chars();
        let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or_default();
        format!("{prefix}{first}{}", c.as_str())
    }
}

fn v(prefix: &str, name: &str) -> String {
    format!("variables.{}", var(prefix, name))
}

/// What a side's variables are for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The object under review: the validations read its defaulted fields.
    Judged,
    /// The stored object of an UPDATE: only the ratchet compares it.
    Compared,
}

/// Variables only the validations read.
const JUDGED_ONLY: [&str; 3] = ["portProtocol", "portName", "serviceKeys"];

/// The defaulted spec of one side: the object under review, or the stored one on UPDATE
/// (`oldObject` is `null` on CREATE; the old side then reads as an empty spec, unused).
fn side(vars: &mut Vec<(String, String)>, object: &str, prefix: &str, side: Side) {
    let mut push = |name: &str, expr: String| {
        if side == Side::Judged || !JUDGED_ONLY.contains(&name) {
            vars.push((var(prefix, name), expr));
        }
    };
    let spec_of = format!(
        "(type({object}) == map && {} ? {} : null)",
        has(object, "spec"),
        get(object, "spec")
    );
    // The spec as a map to read from; `{}` when absent, null or of another type.
    push("spec", format!("type({spec_of}) == map ? {spec_of} : {{}}"));
    let spec = v(prefix, "spec");
    // Not `namespace`: a CEL reserved word.
    push(
        "specNamespace",
        defaulted_str(&spec, "namespace", "variables.namespaceDefault"),
    );
    push(
        "specCluster",
        defaulted_str(&spec, "cluster", "variables.clusterDefault"),
    );
    push(
        "port",
        format!(
            "{} && type({}) == map ? {} : {{}}",
            has(&spec, "port"),
            get(&spec, "port"),
            get(&spec, "port")
        ),
    );
    let port = v(prefix, "port");
    let name = get(&port, "name");
    push(
        "protocolFromName",
        format!(
            "{is_str} && {name}.matches({full}) ? {name}.lowerAscii() : ({is_str} && {name}.matches({prefix_re}) ? {name}.split('-')[0].lowerAscii() : '')",
            is_str = is_str(&port, "name"),
            full = lit(&protocol_pattern()),
            prefix_re = lit(&protocol_prefix_pattern()),
        ),
    );
    push(
        "portProtocol",
        defaulted_str(&port, "protocol", &v(prefix, "protocolFromName")),
    );
    let protocol = get(&port, "protocol");
    push(
        "protocolName",
        format!(
            "{} && {protocol}.matches({}) ? {protocol}.lowerAscii().replace('_', '-') : ''",
            is_str(&port, "protocol"),
            lit(&protocol_pattern())
        ),
    );
    push(
        "portName",
        defaulted_str(&port, "name", &v(prefix, "protocolName")),
    );
    push(
        "services",
        format!(
            "{} && type({}) == list ? {} : []",
            has(&spec, "failoverServices"),
            get(&spec, "failoverServices"),
            get(&spec, "failoverServices")
        ),
    );
    // (name, namespace, cluster) of each entry whose three fields are set, after defaulting;
    // `[]` for the others. Two equal keys are a ServiceDuplicate.
    let ns = v(prefix, "specNamespace");
    let cluster = v(prefix, "specCluster");
    push(
        "serviceKeys",
        format!(
            "{}.map(e, type(e) == map && {} && {} != '' && {} != '' ? [dyn({}), dyn({}), dyn({})] : [])",
            v(prefix, "services"),
            is_set("e", "name"),
            defaulted_str("e", "namespace", &ns),
            defaulted_str("e", "cluster", &cluster),
            get("e", "name"),
            defaulted_str("e", "namespace", &ns),
            defaulted_str("e", "cluster", &cluster),
        ),
    );
}

/// The spec of the defaulted object is the spec of the defaulted old object (spec §3), for an
/// UPDATE. Mirrors `engine::evaluate`: an absent or `null` spec becomes a map when a default
/// fills it, and is `null` otherwise; a spec of another type is compared as it is.
fn unchanged() -> String {
    let new_map = spec_is_map("object");
    let old_map = spec_is_map("oldObject");
    let raw = |o: &str| {
        format!(
            "(type({o}) == map && {} ? {} : null)",
            has(o, "spec"),
            get(o, "spec")
        )
    };
    format!(
        "request.operation == 'UPDATE' && type(oldObject) == map && (({new_map} && {old_map}) ? {} : (!{new_map} && !{old_map} && {} == {}))",
        spec_equal(),
        raw("object"),
        raw("oldObject")
    )
}

/// The spec of this side is a map once defaulted.
fn spec_is_map(object: &str) -> String {
    let spec = get(object, "spec");
    let defaults = "(variables.namespaceDefault != '' || variables.clusterDefault != '')";
    format!(
        "(type({object}) == map && ({} ? (type({spec}) == map || (type({spec}) == null_type && {defaults})) : {defaults}))",
        has(object, "spec"),
    )
}

/// Both defaulted specs (maps) are equal.
fn spec_equal() -> String {
    let (n, o) = ("variables.spec", "variables.oldSpec");
    let nd = "variables.namespaceDefault";
    let cd = "variables.clusterDefault";
    let port = {
        let (np, op) = ("variables.port", "variables.oldPort");
        let both = format!(
            "type({}) == map && type({}) == map",
            spec_field(n, "port"),
            spec_field(o, "port")
        );
        format!(
            "(({both}) ? ({} && {} == {} && {} == {}) : {} == {})",
            same_except(np, op, &["name", "protocol"]),
            defaulted_wrapped(np, "protocol", "variables.protocolFromName"),
            defaulted_wrapped(op, "protocol", "variables.oldProtocolFromName"),
            defaulted_wrapped(np, "name", "variables.protocolName"),
            defaulted_wrapped(op, "name", "variables.oldProtocolName"),
            wrapped(n, "port"),
            wrapped(o, "port"),
        )
    };
    let services = {
        let (ns, os) = ("variables.services", "variables.oldServices");
        let both = format!(
            "type({}) == list && type({}) == list",
            spec_field(n, "failoverServices"),
            spec_field(o, "failoverServices")
        );
        let (a, b) = (format!("{ns}[i]"), format!("{os}[i]"));
        let entry = format!(
            "((type({a}) == map && type({b}) == map) ? ({} && {} == {} && {} == {}) : {a} == {b})",
            same_except(&a, &b, &["namespace", "cluster"]),
            defaulted_wrapped(&a, "namespace", "variables.specNamespace"),
            defaulted_wrapped(&b, "namespace", "variables.oldSpecNamespace"),
            defaulted_wrapped(&a, "cluster", "variables.specCluster"),
            defaulted_wrapped(&b, "cluster", "variables.oldSpecCluster"),
        );
        format!(
            "(({both}) ? (size({ns}) == size({os}) && (size({ns}) <= {INDEXED_ENTRIES} ? variables.indices.all(i, i >= size({ns}) || {entry}) : {ns} == {os})) : {} == {})",
            wrapped(n, "failoverServices"),
            wrapped(o, "failoverServices"),
        )
    };
    format!(
        "{} && {} == {} && {} == {} && {port} && {services}",
        same_except(n, o, &["namespace", "cluster", "port", "failoverServices"]),
        defaulted_wrapped(n, "namespace", nd),
        defaulted_wrapped(o, "namespace", nd),
        defaulted_wrapped(n, "cluster", cd),
        defaulted_wrapped(o, "cluster", cd),
    )
}

/// `spec[key]`, or `null` when absent.
fn spec_field(spec: &str, key: &str) -> String {
    format!("({} ? {} : null)", has(spec, key), get(spec, key))
}
