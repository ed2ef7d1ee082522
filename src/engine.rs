//! One evaluation of one FailoverService, the same for `/mutate`, `/validate` and `check`:
//! decode → defaults → rules → verdict → initial status → patch.

use std::borrow::Cow;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, ReplaceOperation};
use serde::Serialize;
use serde_json::Value;

use crate::api::{ObjectRef, State};
use crate::decode;
use crate::decode::slots::ReadSpec;
use crate::defaults;
use crate::enforcement::{Action, Enforcement};
use crate::finding::{Finding, RuleClass};
use crate::identity::Identity;
use crate::rules;
use crate::skip::{self, SkipRules};
use crate::status;
use crate::topology::Topology;

/// The server settings the evaluation depends on.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `--default-cluster`: the default for `spec.cluster`.
    pub default_cluster: Option<String>,
    /// `--strict-references`: reference findings deny instead of warn.
    pub strict_references: bool,
    /// `--enforcement`: whether findings that would deny do deny, or only warn.
    pub enforcement: Enforcement,
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
    /// The value of the object's skip-rules annotation ([`skip::ANNOTATION`]), if any.
    pub skip_rules: Option<&'a str>,
}

impl<'a> Review<'a> {
    /// A review of `object`, with the skip-rules annotation read from it.
    pub fn new(change: Change<'a>, object: &'a Value, this: &'a ObjectRef) -> Review<'a> {
        Review {
            change,
            object,
            this,
            skip_rules: skip::annotation(object),
        }
    }

    /// The reference `object`'s own metadata gives, for callers without an admission request.
    pub fn identity_of(object: &Value) -> ObjectRef {
        Identity::of(object).object_ref()
    }
}

/// The specs of a review read apart from their objects' text ([`crate::decode::slots`]), read
/// by the engine in place of the objects' `spec` keys: no spec is built as a `Value`. The
/// object's spec is owned, so its defaults are applied in place and its slots become the typed
/// spec without a copy; the old spec is only compared, so it stays borrowed.
#[derive(Clone, Debug)]
pub struct ReadSpecs<'a> {
    object: ReadSpec,
    old: Option<&'a ReadSpec>,
}

impl<'a> ReadSpecs<'a> {
    /// The specs to judge `change` with, when they are enough: always for a CREATE; for an
    /// UPDATE when both specs are complete, since telling whether it keeps the spec compares
    /// the whole specs, unknown keys and all. `None` otherwise: the caller then needs the
    /// objects with their specs as `Value`s.
    pub fn for_change(
        change: Change<'_>,
        object: ReadSpec,
        old: Option<&'a ReadSpec>,
    ) -> Option<ReadSpecs<'a>> {
        match change {
            Change::Create => Some(ReadSpecs { object, old: None }),
            Change::Update { .. } => {
                let old = old.filter(|old| old.complete && object.complete)?;
                Some(ReadSpecs {
                    object,
                    old: Some(old),
                })
            }
        }
    }
}

/// What one finding does in this evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Denies the object.
    Deny,
    /// Would deny, but enforcement for its class is `warn`: allowed, with a `would deny:`
    /// warning.
    WouldDeny,
    /// Named in the object's skip-rules annotation: allowed, with a warning naming it.
    Skipped,
    /// Never denies here: a reference finding without `--strict-references`, or any finding
    /// of an UPDATE that keeps the spec.
    Warn,
}

impl Effect {
    /// The label used in metrics and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Deny => "deny",
            Effect::WouldDeny => "would_deny",
            Effect::Skipped => "skipped",
            Effect::Warn => "warn",
        }
    }

    /// Whether the finding would deny the object with every class enforced and no finding
    /// skipped: what the `would_deny` metric counts, in both modes.
    pub fn would_deny(self) -> bool {
        matches!(self, Effect::Deny | Effect::WouldDeny)
    }
}

/// A finding with the verdict it carries in this evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Judged {
    #[serde(flatten)]
    pub finding: Finding,
    pub effect: Effect,
}

impl Judged {
    /// Whether this finding alone denies the object.
    pub fn deny(&self) -> bool {
        self.effect == Effect::Deny
    }
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
    /// The object's skip-rules annotation, read (empty without one).
    pub skip: SkipRules,
}

impl Evaluation {
    pub fn allowed(&self) -> bool {
        !self.findings.iter().any(Judged::deny)
    }

    pub fn denials(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|j| j.deny())
            .map(|j| &j.finding)
    }

    /// The findings that do not deny, whatever the reason.
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|j| !j.deny())
            .map(|j| &j.finding)
    }

    /// The findings with `effect`.
    pub fn with_effect(&self, effect: Effect) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |j| j.effect == effect)
            .map(|j| &j.finding)
    }
}

/// What a finding does: the skip annotation first (an object's owner accepted it), then
/// whether it would deny at all (its class, `--strict-references`, ratcheting), then the
/// enforcement of its class.
fn effect(finding: &Finding, ratcheted: bool, skip: &SkipRules, settings: &Settings) -> Effect {
    let class = finding.class();
    let would_deny = !ratcheted
        && match class {
            RuleClass::Spec | RuleClass::Conflict => true,
            RuleClass::Reference => settings.strict_references,
        };
    if skip.skips(finding.code) {
        Effect::Skipped
    } else if !would_deny {
        Effect::Warn
    } else {
        match settings.enforcement.action(class) {
            Action::Deny => Effect::Deny,
            Action::Warn => Effect::WouldDeny,
        }
    }
}

/// The defaults `spec` (the object's `spec`, `None` when absent) gets, and the spec they give:
/// borrowed as it is when nothing applies, so an object already defaulted (every stored object
/// the webhook mutated) is never copied.
fn defaulted<'v>(
    spec: Option<&'v Value>,
    object_namespace: Option<&str>,
    settings: &Settings,
) -> (defaults::Plan, Cow<'v, Value>) {
    let plan = defaults::plan(
        spec,
        defaults::Context {
            object_namespace,
            default_cluster: settings.default_cluster.as_deref(),
        },
    );
    let spec = match spec {
        Some(spec) if plan.is_empty() => Cow::Borrowed(spec),
        None if plan.is_empty() => Cow::Borrowed(&Value::Null),
        _ => {
            let mut spec = spec.cloned().unwrap_or(Value::Null);
            plan.apply_to(&mut spec);
            Cow::Owned(spec)
        }
    };
    (plan, spec)
}

/// The operations that apply the defaults of `plan` to an object whose `spec` key is present
/// or not, in the form and order a diff of the spec before and after gives: a spec created
/// whole is one operation, never an addition below a missing parent.
fn spec_operations(spec_present: bool, plan: defaults::Plan, ops: &mut Vec<PatchOperation>) {
    let root = || {
        let mut path = PointerBuf::new();
        path.push_back("spec");
        path
    };
    match plan {
        defaults::Plan::Nothing => {}
        defaults::Plan::Create(fresh) => {
            let (path, value) = (root(), Value::Object(fresh));
            ops.push(if spec_present {
                PatchOperation::Replace(ReplaceOperation { path, value })
            } else {
                PatchOperation::Add(AddOperation { path, value })
            });
        }
        defaults::Plan::Fill(fills) => {
            for fill in fills {
                let path = root().concat(&fill.field.pointer());
                let value = Value::String(fill.value);
                ops.push(if fill.replaces {
                    PatchOperation::Replace(ReplaceOperation { path, value })
                } else {
                    PatchOperation::Add(AddOperation { path, value })
                });
            }
        }
    }
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
    evaluate_read(review, None, topology, settings)
}

/// What the spec gives, before the rules run.
struct Specs {
    plan: defaults::Plan,
    /// Whether the object has a `spec` key.
    present: bool,
    decoded: decode::Decoded,
    /// An UPDATE that leaves the defaulted spec as it was.
    ratcheted: bool,
    /// The defaulted spec differs from the old object's spec (always, on a CREATE).
    changed: bool,
}

/// Like [`evaluate`], with the specs read apart from the objects (`read`), whose own `spec`
/// keys are then not read: the same evaluation as [`evaluate`] of the whole objects.
pub fn evaluate_read(
    review: &Review<'_>,
    read: Option<ReadSpecs<'_>>,
    topology: Option<&Topology>,
    settings: &Settings,
) -> Evaluation {
    let object_namespace = Some(Identity::of(review.object).namespace)
        .filter(|ns| !ns.is_empty())
        .or(Some(review.this.namespace.as_str()).filter(|ns| !ns.is_empty()));
    let specs = match read {
        None => specs_in_objects(review, object_namespace, settings),
        Some(read) => specs_read(read, review, object_namespace, settings),
    };
    let Specs {
        plan,
        present,
        decoded,
        ratcheted,
        changed,
    } = specs;

    let mut findings = rules::validate(&decoded, review.this, topology);
    findings.sort_by(|a, b| (&a.field, a.code).cmp(&(&b.field, b.code)));

    let observed_generation = match review.change {
        Change::Create => 1,
        // The API server never reaches i64::MAX, but the old object is the caller's data:
        // saturate rather than wrap to a negative generation.
        Change::Update { old } => generation(old).saturating_add(1),
    };

    let state = status::state(&findings);
    let mut ops = Vec::new();
    if review.object.is_object() {
        spec_operations(present, plan, &mut ops);
        if changed {
            status::operations(
                review.object.get("status"),
                &findings,
                observed_generation,
                &mut ops,
            );
        }
    }
    let patch = json_patch::Patch(ops);

    let skip = review.skip_rules.map(SkipRules::parse).unwrap_or_default();
    let findings = findings
        .into_iter()
        .map(|finding| Judged {
            effect: effect(&finding, ratcheted, &skip, settings),
            finding,
        })
        .collect();
    Evaluation {
        findings,
        ratcheted,
        state,
        patch,
        skip,
    }
}

/// The old object's namespace, for its defaults.
fn old_namespace<'a>(old: &'a Value, object_namespace: Option<&'a str>) -> Option<&'a str> {
    old.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .or(object_namespace)
}

/// The specs read from the objects' `spec` keys.
fn specs_in_objects(
    review: &Review<'_>,
    object_namespace: Option<&str>,
    settings: &Settings,
) -> Specs {
    let spec = review.object.get("spec");
    let (plan, new_spec) = defaulted(spec, object_namespace, settings);
    let new_spec: &Value = &new_spec;
    let decoded = decode::decode_with_spec(review.object, new_spec);
    let (ratcheted, changed) = match review.change {
        Change::Create => (false, true),
        Change::Update { old } => {
            let old_spec = old.get("spec");
            let (_, old_defaulted) =
                defaulted(old_spec, old_namespace(old, object_namespace), settings);
            (
                *old_defaulted == *new_spec,
                new_spec != old_spec.unwrap_or(&Value::Null),
            )
        }
    };
    Specs {
        plan,
        present: spec.is_some(),
        decoded,
        ratcheted,
        changed,
    }
}

/// The specs read apart from the objects: the same plan, findings and comparisons as
/// [`specs_in_objects`] (`ReadSpecs::for_change` admits an UPDATE only with complete specs,
/// which compare as their `Value`s do).
fn specs_read(
    read: ReadSpecs<'_>,
    review: &Review<'_>,
    object_namespace: Option<&str>,
    settings: &Settings,
) -> Specs {
    let context = |object_namespace| defaults::Context {
        object_namespace,
        default_cluster: settings.default_cluster.as_deref(),
    };
    let ReadSpecs {
        object:
            ReadSpec {
                spec: mut new_spec,
                found,
                ..
            },
        old,
    } = read;
    // Past the plan, the object's own spec is read only for whether it has a `spec` key: the
    // comparisons take the defaulted spec, and the old one as it was.
    let plan = defaults::plan_slots(&new_spec, context(object_namespace));
    let present = new_spec.is_present();
    plan.apply_to_slots(&mut new_spec);
    let (ratcheted, changed) = match (review.change, old) {
        (Change::Update { old }, Some(old_read)) => {
            let old_plan = defaults::plan_slots(
                &old_read.spec,
                context(old_namespace(old, object_namespace)),
            );
            let mut old_defaulted = old_read.spec.clone();
            old_plan.apply_to_slots(&mut old_defaulted);
            (
                old_defaulted.same(&new_spec),
                !new_spec.same(&old_read.spec),
            )
        }
        _ => (false, true),
    };
    let object = review.object.as_object();
    let mut decoded = match object {
        Some(object) => decode::decode_apart(object, &found),
        None => decode::decode(review.object),
    };
    decoded.spec = new_spec.into_typed();
    Specs {
        plan,
        present,
        decoded,
        ratcheted,
        changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::RuleCode;
    use crate::topology::embedded;
    use serde_json::json;

    fn valid() -> Value {
        crate::rules::test_support::valid()
    }

    fn run(change: Change<'_>, object: &Value, settings: &Settings) -> Evaluation {
        let this = Review::identity_of(object);
        evaluate(
            &Review::new(change, object, &this),
            Some(&embedded()),
            settings,
        )
    }

    fn patched(object: &Value, eval: &Evaluation) -> Value {
        let mut out = object.clone();
        json_patch::patch(&mut out, &eval.patch)
            .expect("the patch applies to the object as received");
        out
    }

    fn ops(eval: &Evaluation) -> Vec<(String, String)> {
        serde_json::to_value(&eval.patch)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|op| {
                (
                    op["op"].as_str().unwrap().to_owned(),
                    op["path"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn a_valid_create_is_allowed_and_gets_an_accepted_status_as_one_add() {
        let eval = run(Change::Create, &valid(), &Settings::default());
        assert!(eval.allowed() && eval.findings.is_empty());
        assert_eq!(eval.state, State::Accepted);
        assert_eq!(ops(&eval), vec![("add".into(), "/status".into())]);
        assert_eq!(
            patched(&valid(), &eval)["status"],
            json!({"observedGeneration": 1, "validationStatus": {"state": "ACCEPTED", "message": ""}})
        );
    }

    #[test]
    fn defaults_fill_the_spec_before_the_rules_run() {
        let object = json!({
            "metadata": {"name": "f", "namespace": "shop"},
            "spec": {
                "hostname": "checkout.shop.failover",
                "port": {"port": 9080, "name": "http-web"},
                "failoverServices": [{"name": "checkout"}, {"name": "checkout", "cluster": "remote-cluster"}]
            }
        });
        let settings = Settings {
            default_cluster: Some("mgmt-cluster".into()),
            ..Settings::default()
        };
        let eval = run(Change::Create, &object, &settings);
        assert!(eval.findings.is_empty(), "{:?}", eval.findings);
        let out = patched(&object, &eval);
        assert_eq!(out["spec"]["namespace"], "shop");
        assert_eq!(out["spec"]["cluster"], "mgmt-cluster");
        assert_eq!(out["spec"]["port"]["protocol"], "http");
        assert_eq!(
            out["spec"]["failoverServices"][0],
            json!({"name": "checkout", "namespace": "shop", "cluster": "mgmt-cluster"})
        );
        assert_eq!(
            out["spec"]["failoverServices"][1]["cluster"],
            "remote-cluster"
        );
    }

    #[test]
    fn a_missing_spec_is_added_whole_never_below_a_missing_parent() {
        let object = json!({"metadata": {"name": "f", "namespace": "shop"}});
        let eval = run(Change::Create, &object, &Settings::default());
        assert_eq!(
            ops(&eval),
            vec![
                ("add".into(), "/spec".into()),
                ("add".into(), "/status".into())
            ]
        );
        assert!(!eval.allowed());
        assert_eq!(eval.state, State::Invalid);
    }

    #[test]
    fn spec_findings_deny_and_reference_findings_warn_unless_strict() {
        let object = with(valid(), "/spec/cluster", json!("moon-cluster"));
        let eval = run(Change::Create, &object, &Settings::default());
        assert!(eval.allowed());
        assert_eq!(
            eval.warnings().map(|f| f.code).collect::<Vec<_>>(),
            [RuleCode::ClusterNotRegistered]
        );
        assert_eq!(
            eval.state,
            State::Invalid,
            "the status tells the truth even when admitted"
        );
        let strict = Settings {
            strict_references: true,
            ..Settings::default()
        };
        assert!(!run(Change::Create, &object, &strict).allowed());
    }

    #[test]
    fn conflicts_deny_and_a_hostname_conflict_alone_is_the_conflict_state() {
        let object = with(
            valid(),
            "/spec/hostname",
            json!("reviews.bookinfo.failover"),
        );
        let eval = run(Change::Create, &object, &Settings::default());
        assert!(!eval.allowed());
        assert_eq!(eval.state, State::Conflict);
    }

    #[test]
    fn an_update_that_keeps_the_spec_is_never_denied() {
        let old = with(valid(), "/spec/port/port", json!(70000));
        let new = with(old.clone(), "/metadata/labels", json!({"team": "a"}));
        let eval = run(Change::Update { old: &old }, &new, &Settings::default());
        assert!(eval.ratcheted && eval.allowed());
        assert_eq!(
            eval.warnings().map(|f| f.code).collect::<Vec<_>>(),
            [RuleCode::PortNumberInvalid]
        );
        assert!(
            eval.patch.0.is_empty(),
            "no status on a spec-preserving update"
        );
    }

    fn codes(eval: &Evaluation) -> Vec<RuleCode> {
        eval.findings.iter().map(|j| j.finding.code).collect()
    }

    #[test]
    fn a_port_left_without_a_name_or_protocol_by_the_defaults_is_denied() {
        for (port, expected) in [
            (
                json!({"port": 9080}),
                vec![RuleCode::PortNameInvalid, RuleCode::PortProtocolInvalid],
            ),
            (
                json!({"port": 9080, "name": "http1"}),
                vec![RuleCode::PortProtocolInvalid],
            ),
            (
                json!({"port": 9080, "protocol": "websocket"}),
                vec![RuleCode::PortNameInvalid, RuleCode::PortProtocolInvalid],
            ),
        ] {
            let object = with(valid(), "/spec/port", port.clone());
            let eval = run(Change::Create, &object, &Settings::default());
            assert!(!eval.allowed(), "{port}");
            assert_eq!(codes(&eval), expected, "{port}");
            assert_eq!(eval.state, State::Invalid, "{port}");
        }
    }

    #[test]
    fn a_name_or_protocol_the_defaults_derive_the_other_from_is_enough() {
        for port in [
            json!({"port": 9080, "name": "http-api"}),
            json!({"port": 9080, "name": "grpc-web"}),
            json!({"port": 9080, "protocol": "HTTP"}),
            json!({"port": 9080, "protocol": "http_proxy"}),
        ] {
            let object = with(valid(), "/spec/port", port.clone());
            let eval = run(Change::Create, &object, &Settings::default());
            assert!(
                eval.allowed() && eval.findings.is_empty(),
                "{port}: {:?}",
                eval.findings
            );
        }
    }

    #[test]
    fn a_label_edit_of_an_old_object_without_a_protocol_goes_through_with_warnings() {
        let old = with(
            with(valid(), "/spec/port", json!({"port": 9080, "name": "web"})),
            "/metadata/generation",
            json!(3),
        );
        let new = with(old.clone(), "/metadata/labels", json!({"team": "a"}));
        let eval = run(Change::Update { old: &old }, &new, &Settings::default());
        assert!(eval.ratcheted && eval.allowed());
        assert_eq!(
            eval.warnings().map(|f| f.code).collect::<Vec<_>>(),
            [RuleCode::PortProtocolInvalid]
        );
        assert!(eval.patch.0.is_empty(), "{:?}", eval.patch);

        let moved = with(new.clone(), "/spec/port/port", json!(9081));
        let eval = run(Change::Update { old: &old }, &moved, &Settings::default());
        assert!(
            !eval.ratcheted && !eval.allowed(),
            "a spec change is judged"
        );
        assert_eq!(codes(&eval), [RuleCode::PortProtocolInvalid]);
    }

    #[test]
    fn defaults_filled_on_the_way_do_not_count_as_a_spec_change() {
        let old = without(
            with(valid(), "/spec/port/port", json!(70000)),
            "/spec/namespace",
        );
        let new = with(old.clone(), "/metadata/labels", json!({"team": "a"}));
        let eval = run(Change::Update { old: &old }, &new, &Settings::default());
        assert!(eval.ratcheted && eval.allowed());
    }

    #[test]
    fn an_update_that_changes_the_spec_is_judged_and_gets_the_next_generation() {
        let old = with(valid(), "/metadata/generation", json!(4));
        let new = with(old.clone(), "/spec/port/port", json!(70000));
        let eval = run(Change::Update { old: &old }, &new, &Settings::default());
        assert!(!eval.ratcheted && !eval.allowed());
        let status = &patched(&new, &eval)["status"];
        assert_eq!(status["observedGeneration"], 5);
        assert_eq!(status["validationStatus"]["state"], "INVALID");
        assert_eq!(
            status["validationStatus"]["message"],
            "spec.port.port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
    }

    #[test]
    fn the_next_generation_saturates_at_the_largest_generation() {
        let old = with(valid(), "/metadata/generation", json!(i64::MAX));
        let new = with(old.clone(), "/spec/port/port", json!(8080));
        let eval = run(Change::Update { old: &old }, &new, &Settings::default());
        let status = &patched(&new, &eval)["status"];
        assert_eq!(status["observedGeneration"], json!(i64::MAX));
    }

    #[test]
    fn an_existing_status_is_updated_in_place_keeping_translation_fields() {
        let old = valid();
        let new = with(
            with(
                valid(),
                "/status",
                json!({"observedGeneration": "1", "translationStatus": {"state": "ACCEPTED"}}),
            ),
            "/spec/port/port",
            json!(8080),
        );
        let eval = run(Change::Update { old: &old }, &new, &Settings::default());
        let status = &patched(&new, &eval)["status"];
        assert_eq!(status["translationStatus"], json!({"state": "ACCEPTED"}));
        assert_eq!(status["observedGeneration"], 1);
        assert!(
            ops(&eval).iter().all(|(_, p)| p.starts_with("/status/")),
            "{:?}",
            ops(&eval)
        );
    }

    #[test]
    fn findings_come_in_field_order() {
        let object = json!({"metadata": {"name": "f", "namespace": "shop"}, "spec": {"port": {"port": 0}, "hostname": "A"}});
        let eval = run(Change::Create, &object, &Settings::default());
        let fields: Vec<_> = eval
            .findings
            .iter()
            .map(|j| j.finding.field.to_string())
            .collect();
        let mut sorted = fields.clone();
        sorted.sort();
        assert_eq!(fields, sorted);
    }

    #[test]
    fn a_non_object_is_one_type_error_and_no_patch() {
        let eval = run(Change::Create, &json!("text"), &Settings::default());
        assert!(!eval.allowed());
        assert!(eval.patch.0.is_empty());
        assert_eq!(eval.findings.len(), 1);
    }

    fn effects(eval: &Evaluation) -> Vec<(RuleCode, Effect)> {
        eval.findings
            .iter()
            .map(|j| (j.finding.code, j.effect))
            .collect()
    }

    /// A spec finding (port), a reference finding (cluster) and a conflict (hostname).
    fn one_of_each_class() -> Value {
        let object = with(valid(), "/spec/port/port", json!(70000));
        let object = with(object, "/spec/hostname", json!("reviews.bookinfo.failover"));
        with(object, "/spec/cluster", json!("moon-cluster"))
    }

    fn settings(enforcement: Enforcement, strict_references: bool) -> Settings {
        Settings {
            enforcement,
            strict_references,
            ..Settings::default()
        }
    }

    #[test]
    fn in_warn_mode_what_would_deny_is_allowed_and_marked() {
        let object = one_of_each_class();
        let eval = run(
            Change::Create,
            &object,
            &settings(Enforcement::warn(), false),
        );
        assert!(eval.allowed());
        assert_eq!(
            effects(&eval),
            [
                (RuleCode::ClusterNotRegistered, Effect::Warn),
                (RuleCode::HostnameConflict, Effect::WouldDeny),
                (RuleCode::PortNumberInvalid, Effect::WouldDeny),
            ]
        );
        assert_eq!(
            eval.state,
            State::Invalid,
            "the status still tells the truth"
        );
        let enforced = run(Change::Create, &object, &Settings::default());
        assert!(!enforced.allowed());
        assert_eq!(
            enforced
                .findings
                .iter()
                .filter(|j| j.effect.would_deny())
                .count(),
            2,
            "the same findings would deny in both modes"
        );
    }

    #[test]
    fn a_class_override_audits_that_class_while_the_others_enforce() {
        let conflict_warn = Enforcement::default().with(RuleClass::Conflict, Action::Warn);
        let eval = run(
            Change::Create,
            &one_of_each_class(),
            &settings(conflict_warn, false),
        );
        assert!(!eval.allowed());
        assert_eq!(
            eval.denials().map(|f| f.code).collect::<Vec<_>>(),
            [RuleCode::PortNumberInvalid]
        );
        assert_eq!(
            eval.with_effect(Effect::WouldDeny)
                .map(|f| f.code)
                .collect::<Vec<_>>(),
            [RuleCode::HostnameConflict]
        );
    }

    #[test]
    fn strict_references_decides_whether_a_reference_finding_would_deny_at_all() {
        let object = with(valid(), "/spec/cluster", json!("moon-cluster"));
        let code = |s: &Settings| effects(&run(Change::Create, &object, s));
        let not_strict = Enforcement::default().with(RuleClass::Reference, Action::Deny);
        assert_eq!(
            code(&settings(not_strict, false)),
            [(RuleCode::ClusterNotRegistered, Effect::Warn)],
            "enforcement never makes a plain warning deny"
        );
        assert_eq!(
            code(&settings(Enforcement::default(), true)),
            [(RuleCode::ClusterNotRegistered, Effect::Deny)]
        );
        let audited = Enforcement::default().with(RuleClass::Reference, Action::Warn);
        assert_eq!(
            code(&settings(audited, true)),
            [(RuleCode::ClusterNotRegistered, Effect::WouldDeny)]
        );
    }

    #[test]
    fn a_ratcheted_update_is_not_counted_as_would_deny() {
        let old = with(valid(), "/spec/port/port", json!(70000));
        let new = with(old.clone(), "/metadata/labels", json!({"team": "a"}));
        for enforcement in [Enforcement::default(), Enforcement::warn()] {
            let eval = run(
                Change::Update { old: &old },
                &new,
                &settings(enforcement, false),
            );
            assert_eq!(
                effects(&eval),
                [(RuleCode::PortNumberInvalid, Effect::Warn)]
            );
        }
    }

    fn annotated(object: Value, value: &str) -> Value {
        with(
            object,
            "/metadata/annotations",
            json!({crate::skip::ANNOTATION: value}),
        )
    }

    #[test]
    fn the_skip_annotation_lets_a_conflict_through_and_reports_it() {
        let object = with(
            valid(),
            "/spec/hostname",
            json!("reviews.bookinfo.failover"),
        );
        let object = annotated(object, "HostnameConflict");
        let eval = run(Change::Create, &object, &Settings::default());
        assert!(eval.allowed());
        assert_eq!(
            effects(&eval),
            [(RuleCode::HostnameConflict, Effect::Skipped)]
        );
        assert!(eval.skip.problems().is_empty());
        assert_eq!(
            eval.state,
            State::Conflict,
            "the status still tells the truth"
        );
    }

    #[test]
    fn the_skip_annotation_cannot_skip_spec_rules_and_says_so() {
        let object = annotated(
            with(valid(), "/spec/port/port", json!(70000)),
            "PortNumberInvalid",
        );
        let eval = run(Change::Create, &object, &Settings::default());
        assert!(!eval.allowed());
        assert_eq!(eval.skip.problems().len(), 1);
        assert!(eval.skip.problems()[0].contains("PortNumberInvalid is a spec rule"));
    }

    #[test]
    fn the_engine_takes_the_annotation_value_as_given() {
        let object = with(
            valid(),
            "/spec/hostname",
            json!("reviews.bookinfo.failover"),
        );
        let this = Review::identity_of(&object);
        let review = Review {
            skip_rules: Some("HostnameConflict"),
            ..Review::new(Change::Create, &object, &this)
        };
        let eval = evaluate(&review, Some(&embedded()), &Settings::default());
        assert!(eval.allowed());
    }

    use crate::enforcement::{Action, Enforcement};
    use crate::rules::test_support::{with, without};
}
