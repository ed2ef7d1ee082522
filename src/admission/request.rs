//! Reading the AdmissionReview envelope the API server sends.
//!
//! The envelope is never read through typed structs that refuse a wrong shape: a typed decode
//! of a malformed custom resource would fail the whole call (and with `failurePolicy: Fail`,
//! block the user's write with an unhelpful transport error) instead of producing findings with
//! field paths. Only the envelope's own fields are required here; the object is the engine's
//! business. The server reads the envelope from the request bytes ([`super::envelope`]); a
//! review already parsed as a `Value` is read by [`AdmissionRequest::read`], with the same
//! checks in the same order.

use std::borrow::Cow;

use serde_json::Value;

use super::envelope::{Envelope, Request};

use crate::api::NETWORKING_GROUP;
use crate::decode::slots::ReadSpec;
use crate::identity::Identity;

/// The AdmissionReview versions the API server can send (`admissionReviewVersions`). The answer
/// must be in the version received: the API server decodes it with the version it sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewVersion {
    V1,
    V1Beta1,
}

impl ReviewVersion {
    pub fn api_version(self) -> &'static str {
        match self {
            ReviewVersion::V1 => "admission.k8s.io/v1",
            ReviewVersion::V1Beta1 => "admission.k8s.io/v1beta1",
        }
    }

    fn from_api_version(api_version: &str) -> Option<ReviewVersion> {
        match api_version {
            "admission.k8s.io/v1" => Some(ReviewVersion::V1),
            "admission.k8s.io/v1beta1" => Some(ReviewVersion::V1Beta1),
            _ => None,
        }
    }
}

/// Why a body is not an AdmissionReview this server can answer. Each is answered with HTTP 400
/// and a short plain-text reason: without a `uid` there is no AdmissionReview to answer with.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The body is not JSON (or nests deeper than the parser's limit).
    #[error("body is not valid JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// The body is JSON, but `apiVersion`/`kind` do not name an AdmissionReview version this
    /// server speaks.
    #[error(
        "not an AdmissionReview: expected apiVersion admission.k8s.io/v1 or admission.k8s.io/v1beta1 and kind AdmissionReview"
    )]
    NotAReview,
    /// The review carries no `request` object.
    #[error("AdmissionReview has no request")]
    NoRequest,
    /// The request has no `uid` string, so no response could be matched to it.
    #[error("AdmissionReview request has no uid")]
    NoUid,
}

/// `request.operation`. A PATCH arrives as CREATE or UPDATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
    /// Anything else: the API server sends none, and nothing is judged for it.
    Other,
}

impl Operation {
    fn parse(s: &str) -> Operation {
        match s {
            "CREATE" => Operation::Create,
            "UPDATE" => Operation::Update,
            "DELETE" => Operation::Delete,
            "CONNECT" => Operation::Connect,
            _ => Operation::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
            Operation::Other => "OTHER",
        }
    }
}

/// The parts of an AdmissionReview request this server reads, borrowed from the parsed body.
#[derive(Debug)]
pub struct AdmissionRequest<'a> {
    pub version: ReviewVersion,
    pub uid: &'a str,
    pub operation: Operation,
    /// `request.kind.group` and `.kind`: the kind as the webhook registered it (after
    /// `matchPolicy: Equivalent` conversion), which is what decides whether the request is ours.
    pub group: &'a str,
    pub kind: &'a str,
    /// `request.subResource`; empty for the main resource.
    pub sub_resource: &'a str,
    /// `request.name`; absent on a CREATE with `generateName` at the mutating stage.
    pub name: &'a str,
    pub namespace: &'a str,
    pub dry_run: bool,
    /// `request.object`; `null` on DELETE.
    pub object: &'a Value,
    /// `request.oldObject`; `null` on CREATE and CONNECT.
    pub old_object: &'a Value,
    /// The objects' specs when they were read apart from the text; `object` and `old_object`
    /// then have no `spec` key. The object's spec is taken from the envelope, for the engine to
    /// default it in place; the old one is only compared.
    pub object_spec: Option<ReadSpec>,
    pub old_spec: Option<&'a ReadSpec>,
}

static NULL: Value = Value::Null;

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

impl<'a> AdmissionRequest<'a> {
    /// Reads the envelope of an AdmissionReview parsed as a `Value`.
    pub fn read(review: &'a Value) -> Result<AdmissionRequest<'a>, ReviewError> {
        let version = ReviewVersion::from_api_version(str_at(review, "apiVersion"))
            .filter(|_| str_at(review, "kind") == "AdmissionReview")
            .ok_or(ReviewError::NotAReview)?;
        let request = review
            .get("request")
            .filter(|r| r.is_object())
            .ok_or(ReviewError::NoRequest)?;
        let uid = request
            .get("uid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .ok_or(ReviewError::NoUid)?;
        let object = request.get("object").unwrap_or(&NULL);
        let kind = request
            .get("kind")
            .filter(|k| k.is_object())
            .map(|k| (str_at(k, "group"), str_at(k, "kind")));
        Ok(AdmissionRequest {
            version,
            uid,
            operation: Operation::parse(str_at(request, "operation")),
            group: "",
            kind: "",
            sub_resource: str_at(request, "subResource"),
            name: str_at(request, "name"),
            namespace: str_at(request, "namespace"),
            dry_run: request
                .get("dryRun")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            object,
            old_object: request.get("oldObject").unwrap_or(&NULL),
            object_spec: None,
            old_spec: None,
        }
        .with_kind(kind))
    }

    /// Reads the envelope of an AdmissionReview decoded from the request bytes; the same checks
    /// in the same order as [`AdmissionRequest::read`]. The object's spec read apart is moved
    /// out of the envelope into the request.
    pub(super) fn from_envelope(
        envelope: &'a mut Envelope<'_>,
    ) -> Result<AdmissionRequest<'a>, ReviewError> {
        let (api_version, kind, request) = match envelope {
            Envelope::Whole(review) => return AdmissionRequest::read(review),
            Envelope::Read {
                api_version,
                kind,
                request,
            } => (api_version, kind, request),
        };
        let version = ReviewVersion::from_api_version(api_version.as_deref().unwrap_or_default())
            .filter(|_| kind.as_deref() == Some("AdmissionReview"))
            .ok_or(ReviewError::NotAReview)?;
        let request = request.as_mut().ok_or(ReviewError::NoRequest)?;
        let object_spec = request.object_spec.take();
        let request: &'a Request<'_> = request;
        let uid = request
            .uid
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or(ReviewError::NoUid)?;
        let text = |t: &'a Option<Cow<'_, str>>| t.as_deref().unwrap_or_default();
        Ok(AdmissionRequest {
            version,
            uid,
            operation: Operation::parse(text(&request.operation)),
            group: "",
            kind: "",
            sub_resource: text(&request.sub_resource),
            name: text(&request.name),
            namespace: text(&request.namespace),
            dry_run: request.dry_run.unwrap_or(false),
            object: &request.object,
            old_object: &request.old_object,
            object_spec,
            old_spec: request.old_spec.as_ref(),
        }
        .with_kind(
            request
                .kind
                .as_ref()
                .map(|(group, kind)| (text(group), text(kind))),
        ))
    }

    /// `request.kind` is always set by the API server; an envelope without it is judged by
    /// the object's own type, so a hand-made review is not waved through by accident.
    fn with_kind(self, kind: Option<(&'a str, &'a str)>) -> AdmissionRequest<'a> {
        let (group, kind) = kind.unwrap_or_else(|| {
            let api_version = str_at(self.object, "apiVersion");
            let group = api_version.split_once('/').map_or("", |(g, _)| g);
            (group, str_at(self.object, "kind"))
        });
        AdmissionRequest {
            group,
            kind,
            ..self
        }
    }

    /// Whether the request is for the FailoverService main resource, the only thing this
    /// webhook judges. Status writes come from the controller and must never be blocked.
    pub fn is_failover_service(&self) -> bool {
        self.group == NETWORKING_GROUP && self.kind == "FailoverService"
    }

    /// The object's identity: `request.name`/`namespace`, else the object's metadata. The
    /// name stays empty on a CREATE with `generateName` before the API server has generated
    /// it; [`Identity::display_name`] then shows the prefix.
    pub fn identity(&self) -> Identity<'a> {
        Identity::of_request(self.namespace, self.name, self.object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn review(request: Value) -> Value {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
    }

    #[test]
    fn rejects_envelopes_that_are_not_reviews() {
        let not = |v: Value| AdmissionRequest::read(&v).unwrap_err().to_string();
        assert!(not(json!({"kind": "Pod"})).starts_with("not an AdmissionReview"));
        assert!(
            not(json!({"apiVersion": "admission.k8s.io/v2", "kind": "AdmissionReview"}))
                .starts_with("not an AdmissionReview")
        );
        assert_eq!(not(json!([])), ReviewError::NotAReview.to_string());
        assert_eq!(
            not(json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})),
            "AdmissionReview has no request"
        );
        assert_eq!(
            not(review(json!({"uid": 7}))),
            "AdmissionReview request has no uid"
        );
        assert_eq!(
            not(review(json!({"uid": ""}))),
            "AdmissionReview request has no uid"
        );
    }

    #[test]
    fn names_fall_back_from_request_to_metadata_to_generate_name() {
        let v = review(json!({
            "uid": "u", "operation": "CREATE",
            "kind": {"group": "networking.smh.solo.io", "version": "v1alpha1", "kind": "FailoverService"},
            "object": {"metadata": {"generateName": "fs-", "namespace": "ns"}}
        }));
        let r = AdmissionRequest::read(&v).unwrap();
        assert!(r.is_failover_service());
        assert_eq!(r.identity().name, "");
        assert_eq!(r.identity().namespace, "ns");
        assert_eq!(r.identity().display_name(), "fs-");
        assert_eq!(r.operation, Operation::Create);
        assert!(r.old_object.is_null());
    }

    #[test]
    fn a_missing_request_kind_falls_back_to_the_object_type() {
        let v = review(json!({
            "uid": "u", "operation": "CREATE",
            "object": {"apiVersion": "v1", "kind": "ConfigMap"}
        }));
        let r = AdmissionRequest::read(&v).unwrap();
        assert!(!r.is_failover_service());
        assert_eq!((r.group, r.kind), ("", "ConfigMap"));
    }
}
