//! Reads a FailoverService from arbitrary JSON: every key the API does not define and every value
//! of the wrong JSON type becomes a finding at its path, and what can be read becomes the typed
//! [`FailoverServiceSpec`] the rules work on.
//!
//! The original CRD had no schema, so the API server stores anything. A strict typed decode would
//! fail the whole object on the first bad field; reading leniently lets us report every problem
//! at once, each with its own path.

use serde_json::{Map, Value};

use crate::api::{FailoverServiceSpec, PortSpec, ResourceRef, State};
use crate::finding::{FieldPath, Finding, RuleCode};

pub mod slots;

/// The JSON shape of one field, as the proto3 JSON mapping of the original API reads it.
/// `null` is accepted everywhere: proto3 reads it as "unset". The admission policy is generated
/// from the same table, so both judge the same keys and types.
pub(crate) enum Shape {
    String,
    /// A JSON number; its range is a rule of its own (`PortNumberInvalid`).
    Number,
    /// int64: the proto3 mapping accepts an integer or a numeric string.
    Int64,
    /// An enum [`State`]: its name or its number.
    State,
    /// Not ours to judge (`metadata` is validated by the API server).
    Any,
    Object(&'static [(&'static str, &'static Shape)]),
    Array(&'static Shape),
}

static RESOURCE_REF: Shape = Shape::Object(&[
    ("name", &Shape::String),
    ("namespace", &Shape::String),
    ("cluster", &Shape::String),
]);
static PORT: Shape = Shape::Object(&[
    ("port", &Shape::Number),
    ("name", &Shape::String),
    ("protocol", &Shape::String),
]);
pub(crate) static SPEC: Shape = Shape::Object(&[
    ("hostname", &Shape::String),
    ("namespace", &Shape::String),
    ("port", &PORT),
    ("cluster", &Shape::String),
    ("failoverServices", &Shape::Array(&RESOURCE_REF)),
]);
static STATUS_ENTRY: Shape =
    Shape::Object(&[("state", &Shape::State), ("message", &Shape::String)]);
static TRANSLATOR_ERROR: Shape = Shape::Object(&[
    ("translatorId", &Shape::String),
    ("errorMessage", &Shape::String),
]);
static STATUS: Shape = Shape::Object(&[
    ("observedGeneration", &Shape::Int64),
    ("validationStatus", &STATUS_ENTRY),
    ("translationStatus", &STATUS_ENTRY),
    ("translatorErrors", &Shape::Array(&TRANSLATOR_ERROR)),
]);
pub(crate) static OBJECT: Shape = Shape::Object(&[
    ("apiVersion", &Shape::String),
    ("kind", &Shape::String),
    ("metadata", &Shape::Any),
    ("spec", &SPEC),
    ("status", &STATUS),
]);

/// A FailoverService as the rules see it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decoded {
    /// What could be read; a field of the wrong type reads as unset.
    pub spec: FailoverServiceSpec,
    /// `UnknownField` and `TypeMismatch` findings, in document order.
    pub findings: Vec<Finding>,
    /// Paths whose value had the wrong type. Rules skip these (and everything below them), so
    /// a bad value is reported once, as a type error, not again as "required".
    pub malformed: Vec<FieldPath>,
}

// The plain statement of what `rules::malformed::Malformed` answers in logarithmic time, kept
// for the tests that hold the two to each other. It compares the path with every malformed one,
// so outside tests a list of mistyped entries would make it quadratic.
#[cfg(test)]
impl Decoded {
    /// Whether `path` or one of its parents held a value of the wrong type.
    pub fn is_malformed(&self, path: &FieldPath) -> bool {
        let p = path.as_str();
        self.malformed.iter().any(|m| {
            let m = m.as_str();
            m.is_empty()
                || p.strip_prefix(m)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    }
}

/// Decodes a whole FailoverService object (`apiVersion`, `kind`, `metadata`, `spec`, `status`).
pub fn decode(object: &Value) -> Decoded {
    decode_with_spec(object, object.get("spec").unwrap_or(&Value::Null))
}

/// Like [`decode`], but the typed spec is read from `spec` (the defaulted spec), not from the
/// object. Defaults only fill unset fields with well-typed values, so the structural findings
/// of the object as received hold for the defaulted one too.
pub fn decode_with_spec(object: &Value, spec: &Value) -> Decoded {
    let mut decoded = Decoded::default();
    check(object, &OBJECT, &FieldPath::root(), &mut decoded);
    decoded.spec = read_spec(spec);
    decoded
}

/// Whether `value` fits `shape` without looking inside it: what [`check`] accepts without a
/// finding and without descending.
fn leaf_fits(shape: &Shape, value: &Value) -> bool {
    match (shape, value) {
        (_, Value::Null) | (Shape::Any, _) => true,
        (_, Value::String(s)) => string_fits(shape, s),
        (_, Value::Number(n)) => number_fits(shape, n),
        _ => false,
    }
}

/// Whether a string value fits `shape`.
pub(crate) fn string_fits(shape: &Shape, s: &str) -> bool {
    match shape {
        Shape::String | Shape::Any => true,
        Shape::Int64 => s.parse::<i64>().is_ok(),
        // Only `status` has states, and it is never read apart: building the value is fine.
        Shape::State => State::from_json(&Value::String(s.to_owned())).is_some(),
        _ => false,
    }
}

/// Whether a number value fits `shape`.
pub(crate) fn number_fits(shape: &Shape, n: &serde_json::Number) -> bool {
    match shape {
        Shape::Number | Shape::Any => true,
        Shape::Int64 => n.is_i64(),
        Shape::State => State::from_json(&Value::Number(n.clone())).is_some(),
        _ => false,
    }
}

fn check(value: &Value, shape: &Shape, path: &FieldPath, out: &mut Decoded) {
    let ok = match (shape, value) {
        _ if leaf_fits(shape, value) => true,
        (Shape::Object(fields), Value::Object(map)) => {
            check_object(map, fields, path, out);
            true
        }
        (Shape::Array(item), Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                if !leaf_fits(item, v) {
                    check(v, item, &path.index(i), out);
                }
            }
            true
        }
        _ => false,
    };
    if !ok {
        out.mistyped(shape, path.clone(), &describe(value));
    }
}

impl Decoded {
    /// Records that the value at `path`, described as `got`, does not fit `shape`.
    pub(crate) fn mistyped(&mut self, shape: &Shape, path: FieldPath, got: &str) {
        self.findings.push(Finding::new(
            RuleCode::TypeMismatch,
            path.clone(),
            format!("expected {}, got {got}", expected(shape)),
        ));
        self.malformed.push(path);
    }

    /// Records the key `key` of an object of `fields` at `path`, which the API does not define.
    pub(crate) fn unknown(
        &mut self,
        key: &str,
        fields: &[(&'static str, &'static Shape)],
        path: &FieldPath,
    ) {
        let known = fields.iter().map(|(name, _)| *name);
        let message = match suggest(key, known) {
            Some(s) => format!("unknown field `{key}`; did you mean `{s}`?"),
            None => format!(
                "unknown field `{key}`; expected one of {}",
                fields
                    .iter()
                    .map(|(n, _)| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.findings
            .push(Finding::new(RuleCode::UnknownField, path.key(key), message));
    }
}

fn check_object(
    map: &Map<String, Value>,
    fields: &[(&'static str, &'static Shape)],
    path: &FieldPath,
    out: &mut Decoded,
) {
    for (key, value) in map {
        check_entry(key, value, fields, path, out);
    }
}

fn check_entry(
    key: &str,
    value: &Value,
    fields: &[(&'static str, &'static Shape)],
    path: &FieldPath,
    out: &mut Decoded,
) {
    match fields.iter().find(|(name, _)| *name == key) {
        // Most values are well-typed leaves or free-form (metadata): their path, a new
        // string per key, is only built when something below needs it.
        Some((_, shape)) if leaf_fits(shape, value) => {}
        Some((_, shape)) => check(value, shape, &path.key(key), out),
        None => out.unknown(key, fields, path),
    }
}

/// The structural findings of an object whose `spec` was read apart from it (`object` has no
/// `spec` key; `spec` holds what reading it found): the same findings, in the same order, as
/// [`decode`] gives for the whole object.
pub fn decode_apart(object: &Map<String, Value>, spec: &Decoded) -> Decoded {
    let mut out = Decoded::default();
    let Shape::Object(fields) = &OBJECT else {
        return out;
    };
    let root = FieldPath::root();
    let mut spec = Some(spec);
    for (key, value) in object {
        if key.as_str() > "spec"
            && let Some(spec) = spec.take()
        {
            out.extend(spec);
        }
        check_entry(key, value, fields, &root, &mut out);
    }
    if let Some(spec) = spec {
        out.extend(spec);
    }
    out
}

impl Decoded {
    fn extend(&mut self, other: &Decoded) {
        self.findings.extend(other.findings.iter().cloned());
        self.malformed.extend(other.malformed.iter().cloned());
    }
}

/// The known key a user most likely meant: the same letters in another case or separator style
/// (`Hostname`, `failover_services`), or a small typo (`hostnme`).
pub fn suggest<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = norm(key);
    let mut best: Option<(&str, f64)> = None;
    for candidate in known {
        if norm(candidate) == wanted {
            return Some(candidate);
        }
        let score = strsim::jaro_winkler(&wanted, &norm(candidate));
        if score >= 0.85 && best.is_none_or(|(_, s)| score > s) {
            best = Some((candidate, score));
        }
    }
    best.map(|(c, _)| c)
}

pub(crate) fn expected(shape: &Shape) -> &'static str {
    match shape {
        Shape::String => "a string",
        Shape::Number => "a number",
        Shape::Int64 => "an integer or a numeric string",
        Shape::State => "one of UNKNOWN, ACCEPTED, INVALID, PROCESSING_ERROR, CONFLICT (or 0..4)",
        Shape::Any => "any value",
        Shape::Object(_) => "an object",
        Shape::Array(_) => "a list",
    }
}

/// A short description of a value for messages; never the whole value (it may be large).
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => describe_string(s),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// A string as [`describe`] shows it: quoted when short.
pub(crate) fn describe_string(s: &str) -> String {
    if s.chars().count() <= 32 {
        format!("string {s:?}")
    } else {
        "a string".to_owned()
    }
}

/// Reads the typed spec from a `spec` value, skipping what has the wrong type.
fn read_spec(spec: &Value) -> FailoverServiceSpec {
    let Some(spec) = spec.as_object() else {
        return FailoverServiceSpec::default();
    };
    FailoverServiceSpec {
        hostname: string(spec, "hostname"),
        namespace: string(spec, "namespace"),
        port: spec
            .get("port")
            .and_then(Value::as_object)
            .map(|p| PortSpec {
                port: p.get("port").and_then(Value::as_number).cloned(),
                name: string(p, "name"),
                protocol: string(p, "protocol"),
            }),
        cluster: string(spec, "cluster"),
        failover_services: spec
            .get("failoverServices")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|item| match item.as_object() {
                        Some(r) => ResourceRef {
                            name: string(r, "name"),
                            namespace: string(r, "namespace"),
                            cluster: string(r, "cluster"),
                        },
                        // Keeps the index aligned with the document; the entry itself is
                        // reported as a type error.
                        None => ResourceRef::default(),
                    })
                    .collect()
            }),
    }
}

fn string(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Sorted, so the tests do not depend on the JSON map's key order.
    fn codes_and_fields(d: &Decoded) -> Vec<(RuleCode, String)> {
        let mut v: Vec<_> = d
            .findings
            .iter()
            .map(|f| (f.code, f.field.to_string()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn reports_every_unknown_key_with_a_suggestion() {
        let d = decode(&json!({
            "spec": {"hostnme": "a", "port": {"prot": 80}, "failoverServices": [{"clustr": "x"}]},
            "specs": {}
        }));
        assert_eq!(
            codes_and_fields(&d),
            vec![
                (
                    RuleCode::UnknownField,
                    "spec.failoverServices[0].clustr".into()
                ),
                (RuleCode::UnknownField, "spec.hostnme".into()),
                (RuleCode::UnknownField, "spec.port.prot".into()),
                (RuleCode::UnknownField, "specs".into()),
            ]
        );
        assert!(d.findings[1].message.contains("did you mean `hostname`?"));
        assert!(d.findings[0].message.contains("did you mean `cluster`?"));
        assert!(d.findings[3].message.contains("did you mean `spec`?"));
    }

    /// The shape tables and the `api` types are two spellings of one schema: a key in one and
    /// not the other would be read by the rules but reported unknown, or the reverse.
    #[test]
    fn the_shape_tables_name_exactly_the_api_types_fields() {
        use crate::api::{
            FailoverService, FailoverServiceStatus, PortSpec, StatusEntry, TranslatorError,
        };

        fn keys_agree(shape: &Shape, value: &Value, path: &str) {
            match (shape, value) {
                (Shape::Object(fields), Value::Object(map)) => {
                    let mut in_shape: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
                    let mut in_type: Vec<&str> = map.keys().map(String::as_str).collect();
                    in_shape.sort_unstable();
                    in_type.sort_unstable();
                    assert_eq!(in_shape, in_type, "keys of {path}");
                    for (key, inner) in *fields {
                        keys_agree(inner, &map[*key], &format!("{path}.{key}"));
                    }
                }
                (Shape::Array(inner), Value::Array(items)) => {
                    assert_eq!(items.len(), 1, "{path} is built with one item");
                    keys_agree(inner, &items[0], &format!("{path}[0]"));
                }
                (Shape::Object(_) | Shape::Array(_), other) => {
                    panic!("{path}: the table has a structure, the type gave {other}")
                }
                (Shape::Any, _) => {}
                (_, leaf) => assert!(
                    !leaf.is_object() && !leaf.is_array(),
                    "{path}: the table has a leaf, the type gave {leaf}"
                ),
            }
        }

        let text = || Some("x".to_owned());
        let entry = || StatusEntry {
            state: Some(State::Accepted),
            message: text(),
        };
        // Every field set, so that serialising it names them all.
        let object = FailoverService {
            metadata: Default::default(),
            spec: Some(FailoverServiceSpec {
                hostname: text(),
                namespace: text(),
                port: Some(PortSpec {
                    port: Some(80.into()),
                    name: text(),
                    protocol: text(),
                }),
                cluster: text(),
                failover_services: Some(vec![ResourceRef {
                    name: text(),
                    namespace: text(),
                    cluster: text(),
                }]),
            }),
            status: Some(FailoverServiceStatus {
                observed_generation: Some(1),
                validation_status: Some(entry()),
                translation_status: Some(entry()),
                translator_errors: Some(vec![TranslatorError {
                    translator_id: text(),
                    error_message: text(),
                }]),
            }),
        };
        let mut value = serde_json::to_value(&object).unwrap();
        // The type leaves these to the API server's own types; the table takes them as they come.
        let map = value.as_object_mut().unwrap();
        map.insert(
            "apiVersion".into(),
            json!("networking.smh.solo.io/v1alpha1"),
        );
        map.insert("kind".into(), json!("FailoverService"));
        keys_agree(&OBJECT, &value, "object");
    }

    #[test]
    fn suggests_across_case_and_separator_styles() {
        let known = ["hostname", "failoverServices", "port"];
        assert_eq!(
            suggest("failover_services", known),
            Some("failoverServices")
        );
        assert_eq!(suggest("HostName", known), Some("hostname"));
        assert_eq!(suggest("zzzzzz", known), None);
    }

    #[test]
    fn reports_wrong_types_at_their_path_and_marks_them_malformed() {
        let d = decode(&json!({"spec": {
            "port": {"port": "80", "name": 7},
            "failoverServices": {},
            "hostname": ["x"]
        }}));
        assert_eq!(
            codes_and_fields(&d),
            vec![
                (RuleCode::TypeMismatch, "spec.failoverServices".into()),
                (RuleCode::TypeMismatch, "spec.hostname".into()),
                (RuleCode::TypeMismatch, "spec.port.name".into()),
                (RuleCode::TypeMismatch, "spec.port.port".into()),
            ]
        );
        assert!(
            d.findings[3]
                .message
                .contains("expected a number, got string \"80\"")
        );
        assert_eq!(d.spec.hostname, None);
        assert!(d.is_malformed(&"spec.failoverServices".into()));
        assert!(!d.is_malformed(&"spec.failoverServicesX".into()));
    }

    #[test]
    fn a_malformed_parent_covers_its_children() {
        let d = decode(&json!({"spec": {"failoverServices": [5, {"name": "a"}]}}));
        assert!(d.is_malformed(&"spec.failoverServices[0].name".into()));
        assert!(!d.is_malformed(&"spec.failoverServices[1].name".into()));
        // The index stays aligned with the document.
        let refs = d.spec.failover_services.unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[1].name.as_deref(), Some("a"));
    }

    #[test]
    fn null_is_unset_everywhere_and_metadata_is_not_ours() {
        let d = decode(&json!({
            "metadata": {"anything": [1, 2]},
            "spec": {"hostname": null, "port": null, "failoverServices": null},
            "status": null
        }));
        assert!(d.findings.is_empty(), "{:?}", d.findings);
    }

    #[test]
    fn status_accepts_the_proto3_input_forms() {
        let ok = decode(&json!({"status": {
            "observedGeneration": "3",
            "validationStatus": {"state": 2, "message": ""},
            "translationStatus": {"state": "ACCEPTED"},
            "translatorErrors": [{"translatorId": "t", "errorMessage": "m"}]
        }}));
        assert!(ok.findings.is_empty(), "{:?}", ok.findings);
        let bad = decode(&json!({"status": {
            "observedGeneration": "three",
            "validationStatus": {"state": "PENDING"}
        }}));
        assert_eq!(
            codes_and_fields(&bad),
            vec![
                (RuleCode::TypeMismatch, "status.observedGeneration".into()),
                (
                    RuleCode::TypeMismatch,
                    "status.validationStatus.state".into()
                ),
            ]
        );
    }

    #[test]
    fn a_non_object_document_is_one_type_error() {
        let d = decode(&json!([1, 2]));
        assert_eq!(
            codes_and_fields(&d),
            vec![(RuleCode::TypeMismatch, "".into())]
        );
        assert!(d.is_malformed(&"spec.hostname".into()));
    }
}
