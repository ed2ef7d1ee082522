//! One reconcile: judge a FailoverService with the admission engine against the live topology,
//! and write `observedGeneration` and `validationStatus` through `/status` only when they differ
//! from what is stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Resource;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use serde_json::{Value, json};

use super::dependencies;
use super::metrics::{ControllerMetrics, Outcome};
use super::reverse::ReverseIndex;
use crate::api::{ObjectRef, State};
use crate::engine::{self, Change, Review, Settings};
use crate::finding::Finding;
use crate::status;
use crate::topology::{SharedTopology, Topology};

/// The field manager of the status writes.
pub const FIELD_MANAGER: &str = "failover-webhook-status";

/// Longest wait between retries of a failing write.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A conflict means a newer version exists: judge that one soon.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);
/// The topology changed while an object was judged: judge it again after this.
const STALE_RETRY: Duration = Duration::from_secs(1);

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object has no name or namespace: there is nowhere to write.
    #[error("the object has no name or namespace")]
    Unnamed,
    /// The API server refused or failed the status write.
    #[error("writing the status failed: {0}")]
    Write(#[source] kube::Error),
}

impl Error {
    fn is_conflict(&self) -> bool {
        matches!(self, Error::Write(kube::Error::Api(s)) if s.code == 409)
    }
}

/// What every reconcile shares.
pub struct Context {
    pub client: kube::Client,
    pub resource: ApiResource,
    pub topology: SharedTopology,
    pub settings: Settings,
    pub reverse: Arc<Mutex<ReverseIndex>>,
    pub metrics: ControllerMetrics,
    pub recorder: Recorder,
    /// Consecutive failed writes per object, for the backoff.
    pub failures: Mutex<HashMap<ObjectRef, u32>>,
}

/// The status fields this controller owns, as they should be.
fn desired(findings: &[Finding], generation: i64) -> Value {
    let mut st = Value::Null;
    status::apply(&mut st, findings, generation);
    st
}

/// Whether the stored status already says what `want` says, field by field; every other
/// status field (`translationStatus`, `translatorErrors`) is ignored and never written.
fn same(stored: Option<&Value>, want: &Value) -> bool {
    let at = |v: Option<&Value>, p: &str| v.and_then(|v| v.pointer(p)).cloned();
    [
        "/observedGeneration",
        "/validationStatus/state",
        "/validationStatus/message",
    ]
    .iter()
    .all(|p| at(stored, p) == at(Some(want), p))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind: keep using it.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records `me`'s dependencies as judged against `judged`; returns whether that is still the
/// published topology. The forwarder reads the index under the same lock, so a change
/// published after this check finds the new dependencies, and one published before it makes
/// this return `false`.
fn record_current(
    reverse: &Mutex<ReverseIndex>,
    me: &ObjectRef,
    deps: Vec<dependencies::Dependency>,
    judged: &Arc<Topology>,
    shared: &SharedTopology,
) -> bool {
    let mut reverse = lock(reverse);
    reverse.record(me, deps);
    Arc::ptr_eq(&shared.load(), judged)
}

pub async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<Context>) -> Result<Action, Error> {
    let (Some(name), Some(namespace)) = (obj.metadata.name.clone(), obj.metadata.namespace.clone())
    else {
        return Err(Error::Unnamed);
    };
    let me = ObjectRef {
        name: name.clone(),
        namespace: namespace.clone(),
    };
    let object = serde_json::to_value(obj.as_ref()).unwrap_or(Value::Null);
    let topology = ctx.topology.load();
    let evaluation = engine::evaluate(
        &Review {
            change: Change::Create,
            object: &object,
            this: &me,
            // The status tells the truth as of now: a finding the owner chose to skip at
            // admission is still a reason the object may not work.
            skip_rules: None,
        },
        Some(&topology),
        &ctx.settings,
    );
    let deps = dependencies::of(&object, &topology, &ctx.settings);
    let current = record_current(&ctx.reverse, &me, deps, &topology, &ctx.topology);
    // A change published while this judgement ran may have been forwarded before its
    // dependencies were recorded, and missed it: judge again against the newer topology.
    let next = if current {
        Action::await_change()
    } else {
        Action::requeue(STALE_RETRY)
    };
    let findings: Vec<Finding> = evaluation.findings.into_iter().map(|j| j.finding).collect();
    let generation = obj.metadata.generation.unwrap_or(0);
    let want = desired(&findings, generation);
    let stored = object.get("status");
    if same(stored, &want) {
        lock(&ctx.failures).remove(&me);
        ctx.metrics.reconciled(Outcome::Unchanged);
        return Ok(next);
    }
    // Guarded by the judged version: a newer one gets a 409 and is judged afresh.
    let patch = json!({
        "metadata": {"resourceVersion": obj.metadata.resource_version},
        "status": want,
    });
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &namespace, &ctx.resource);
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    if let Err(e) = api
        .patch_status(&name, &params, &Patch::Merge(&patch))
        .await
    {
        return Err(Error::Write(e));
    }
    lock(&ctx.failures).remove(&me);
    ctx.metrics.reconciled(Outcome::Written);
    let old_state = stored
        .and_then(|s| s.pointer("/validationStatus/state"))
        .and_then(State::from_json);
    if old_state != Some(evaluation.state) {
        tracing::info!(object = %me, state = evaluation.state.as_str(), "validation state changed");
        publish_event(&ctx, &obj, evaluation.state, &want).await;
    }
    Ok(next)
}

/// Events are best effort: a refused Event must not fail the status it describes.
async fn publish_event(ctx: &Context, obj: &DynamicObject, state: State, status: &Value) {
    let note = status
        .pointer("/validationStatus/message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // events.k8s.io caps the note at 1 KiB.
    let note: String = note.chars().take(1000).collect();
    let event = Event {
        type_: if state == State::Accepted {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason: match state {
            State::Accepted => "Accepted",
            State::Conflict => "HostnameConflict",
            _ => "Invalid",
        }
        .to_owned(),
        note: (!note.is_empty()).then_some(note),
        action: "Validate".to_owned(),
        secondary: None,
    };
    let reference = obj.object_ref(&ctx.resource);
    if let Err(error) = ctx.recorder.publish(&event, &reference).await {
        tracing::warn!(%error, "could not record the state change as an Event");
    }
}

/// Conflicts are retried at once on the newer version; other failures back off exponentially
/// per object, from one second to five minutes.
pub fn error_policy(obj: Arc<DynamicObject>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconciled(Outcome::Error);
    if matches!(error, Error::Unnamed) {
        return Action::await_change();
    }
    ctx.metrics.write_failed(error.is_conflict());
    let me = ObjectRef {
        name: obj.metadata.name.clone().unwrap_or_default(),
        namespace: obj.metadata.namespace.clone().unwrap_or_default(),
    };
    if error.is_conflict() {
        tracing::debug!(object = %me, "status write conflicted; retrying on the newer version");
        return Action::requeue(CONFLICT_RETRY);
    }
    let mut failures = lock(&ctx.failures);
    let n = failures.entry(me.clone()).or_insert(0);
    *n = n.saturating_add(1);
    let wait = Duration::from_secs(1)
        .saturating_mul(1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF);
    tracing::warn!(object = %me, %error, retry_in_seconds = wait.as_secs(), "status write failed");
    Action::requeue(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owned_fields_are_compared() {
        let want = desired(&[], 2);
        let stored = json!({"observedGeneration": 2,
            "validationStatus": {"state": "ACCEPTED", "message": ""},
            "translationStatus": {"state": "INVALID"}, "translatorErrors": [{"x": 1}]});
        assert!(same(Some(&stored), &want));
        let older = json!({"observedGeneration": 1,
            "validationStatus": {"state": "ACCEPTED", "message": ""}});
        assert!(!same(Some(&older), &want));
        assert!(!same(None, &want));
    }

    #[test]
    fn a_judgement_overtaken_by_a_topology_change_is_not_current() {
        let shared = SharedTopology::new(Topology::empty());
        let reverse = Mutex::new(ReverseIndex::default());
        let me = ObjectRef {
            name: "f".to_owned(),
            namespace: "n".to_owned(),
        };
        let host = || vec![dependencies::Dependency::Hostname("h".to_owned())];
        let judged = shared.load();
        assert!(record_current(&reverse, &me, host(), &judged, &shared));
        shared.store(Topology::empty());
        assert!(!record_current(&reverse, &me, host(), &judged, &shared));
        assert_eq!(lock(&reverse).len(), 1, "recorded either way");
        assert!(record_current(
            &reverse,
            &me,
            host(),
            &shared.load(),
            &shared
        ));
    }
}
