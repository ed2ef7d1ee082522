//! One evaluation of one FailoverService, the same for `/mutate`, `/validate` and `check`:
//! decode → defaults → rules → verdict → initial status → patch.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::api::{ObjectRef, State};
use crate::decode;
use crate::defaults;
use crate::finding::{Finding, RuleClass};
use crate::rules;
use crate::status;
use crate::topology::Topology;

/// The server settings the evaluation depends on.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `--default-cluster`: the default for `spec.cluster`.
    pub default_cluster: Option<String>,
    /// `--strict-references`: reference findings deny instead of warn.
    pub strict_references: bool,
}

/// What is being admitted. DELETE and CONNECT never reach the engine: they are allowed as they
/// are.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    Create,
    Update { old: &'a Value },
}

/// One object to evaluate.
#[derive(Clone, Copy, Debug)]
pub struct Review<'a> {
    pub change: Change<'a>,
    /// The object as received.
    pub object: &'a Value,
    /// The object's namespace and name. On a CREATE with `generateName` the name is empty.
    pub this: &'a ObjectRef,
}

impl<'a> Review<'a> {
    /// A review of `object` under its own metadata, for callers without an admission request.
    pub fn identity_of(object: &Value) -> ObjectRef {
        let meta = |k| {
            object
                .get("metadata")
                .and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        ObjectRef {
            name: meta("name"),
            namespace: meta("namespace"),
        }
    }
}

/// A finding with the verdict it carries in this evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Judged {
    #[serde(flatten)]
    pub finding: Finding,
    /// Whether this finding alone would deny the object.
    pub deny: bool,
}

/// The result of [`evaluate`].
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Every finding, in a stable order (by field path, then rule).
    pub findings: Vec<Judged>,
    /// An UPDATE that leaves the (defaulted) spec as it was: nothing denies (spec §3).
    pub ratcheted: bool,
    /// The validation state the initial status records.
    pub state: State,
    /// RFC 6902 operations that apply the defaults and the initial status to the object as
    /// received. Empty when there is nothing to change.
    pub patch: json_patch::Patch,
}

impl Evaluation {
    pub fn allowed(&self) -> bool {
        !self.findings.iter().any(|j| j.deny)
    }

    pub fn denials(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|j| j.deny).map(|j| &j.finding)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|j| !j.deny).map(|j| &j.finding)
    }
}

/// The parts of an object the webhook writes, defaulted: `spec` and `status` (absent when
/// absent in the object and left so). Working on these two keys, not a copy of the whole
/// object, keeps the cost independent of `metadata` (managedFields, last-applied annotations).
fn defaulted_parts(
    object: &Value,
    object_namespace: Option<&str>,
    settings: &Settings,
) -> Map<String, Value> {
    let mut parts = Map::new();
    for key in ["spec", "status"] {
        if let Some(v) = object.get(key) {
            parts.insert(key.to_owned(), v.clone());
        }
    }
    let mut spec = parts.remove("spec").unwrap_or(Value::Null);
    defaults::apply(
        &mut spec,
        defaults::Context {
            object_namespace,
            default_cluster: settings.default_cluster.as_deref(),
        },
    );
    if !spec.is_null() || object.get("spec").is_some() {
        parts.insert("spec".to_owned(), spec);
    }
    parts
}

fn generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Evaluates one object: the defaults it gets, every finding with its verdict, and the patch.
pub fn evaluate(
    review: &Review<'_>,
    topology: Option<&Topology>,
    settings: &Settings,
) -> Evaluation {
    let object_namespace = review
        .object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
        .or(Some(review.this.namespace.as_str()).filter(|ns| !ns.is_empty()));
    let mut parts = defaulted_parts(review.object, object_namespace, settings);
    let new_spec = parts.get("spec").unwrap_or(&Value::Null);

    let mut decoded = decode::decode(review.object);
    decoded.spec = decode::read_spec(new_spec);
    let mut findings = rules::validate(&decoded, review.this, topology);
    findings.sort_by(|a, b| (&a.field, a.code).cmp(&(&b.field, b.code)));

    let (ratcheted, spec_changed, observed_generation) = match review.change {
        Change::Create => (false, true, 1),
        Change::Update { old } => {
            let old_spec = old.get("spec").unwrap_or(&Value::Null);
            let old_ns = old
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .or(object_namespace);
            let old_defaulted = defaulted_parts(old, old_ns, settings);
            let ratcheted = old_defaulted.get("spec").unwrap_or(&Value::Null) == new_spec;
            (ratcheted, new_spec != old_spec, generation(old) + 1)
        }
    };

    let state = status::state(&findings);
    if spec_changed {
        let mut st = parts.remove("status").unwrap_or(Value::Null);
        status::apply(&mut st, &findings, observed_generation);
        parts.insert("status".to_owned(), st);
    }

    let mut original = Map::new();
    for key in ["spec", "status"] {
        if let Some(v) = review.object.get(key) {
            original.insert(key.to_owned(), v.clone());
        }
    }
    let patch = if review.object.is_object() {
        json_patch::diff(&Value::Object(original), &Value::Object(parts))
    } else {
        json_patch::Patch(Vec::new())
    };

    let findings = findings
        .into_iter()
        .map(|finding| {
            let deny = !ratcheted
                && match finding.class() {
                    RuleClass::Spec | RuleClass::Conflict => true,
                    RuleClass::Reference => settings.strict_references,
                };
            Judged { finding, deny }
        })
        .collect();
    Evaluation {
        findings,
        ratcheted,
        state,
        patch,
    }
}
