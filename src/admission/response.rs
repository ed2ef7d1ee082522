//! The AdmissionReview this server answers with, built in one place so that every rule the API
//! server applies to a response holds by construction.
//!
//! What the API server checks (`VerifyAdmissionResponse`, the mutating dispatcher): a v1
//! response must carry `apiVersion` and `kind: AdmissionReview` and echo the request `uid`, or
//! the call fails and `failurePolicy` decides; `patch` and `patchType` must come together, and
//! a validating webhook must send neither. Hence: the envelope is always written from the
//! request's version and uid, and the only way to add a patch is [`AdmissionResponse::with_patch`],
//! which sets both fields.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::core::response::{Status, StatusCause, StatusDetails, StatusSummary};
use serde::Serialize;

use super::request::ReviewVersion;
use crate::api::NETWORKING_GROUP;
use crate::finding::Finding;

/// `patchType`: the only type the API server accepts.
const JSON_PATCH: &str = "JSONPatch";

/// The `response` of an AdmissionReview.
#[derive(Debug, Serialize)]
pub struct AdmissionResponse {
    uid: String,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<DenialStatus>,
    #[serde(rename = "patchType", skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    /// The RFC 6902 patch, base64 as the API server documents it for `[]byte` fields. (kube's
    /// own `AdmissionResponse` writes an array of numbers, which the API server tolerates but
    /// which is not the documented form and is several times larger.) Held as JSON and
    /// encoded while the response is written, straight into the body.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "base64_string"
    )]
    patch: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

impl AdmissionResponse {
    /// Lets the request through unchanged.
    pub fn allow(uid: &str) -> AdmissionResponse {
        AdmissionResponse {
            uid: uid.to_owned(),
            allowed: true,
            status: None,
            patch_type: None,
            patch: None,
            warnings: Vec::new(),
        }
    }

    /// Refuses the request. The API server shows `status` to the user as the error, so it
    /// must carry a code of at least 400 (lower codes are bumped to 400, and a missing status
    /// reads "denied the request without explanation").
    pub fn deny(mut self, status: DenialStatus) -> AdmissionResponse {
        self.allowed = false;
        self.status = Some(status);
        self
    }

    /// Attaches a JSON patch; an empty patch attaches nothing, because the API server treats
    /// any patch on DELETE as an attempt to modify the object (HTTP 500 to the user).
    pub fn with_patch(mut self, patch: &json_patch::Patch) -> AdmissionResponse {
        if patch.0.is_empty() {
            return self;
        }
        // A patch is a list of plain values and always serialises.
        let bytes = serde_json::to_vec(patch).unwrap_or_default();
        self.patch_type = Some(JSON_PATCH);
        self.patch = Some(bytes);
        self
    }

    pub fn with_warnings(mut self, warnings: Vec<String>) -> AdmissionResponse {
        self.warnings = warnings;
        self
    }

    pub fn allowed(&self) -> bool {
        self.allowed
    }

    pub fn has_patch(&self) -> bool {
        self.patch.is_some()
    }

    /// The whole AdmissionReview, in the version the request came in.
    pub fn into_review(self, version: ReviewVersion) -> Vec<u8> {
        #[derive(Serialize)]
        struct Review<'a> {
            #[serde(rename = "apiVersion")]
            api_version: &'static str,
            kind: &'static str,
            response: &'a AdmissionResponse,
        }
        let review = Review {
            api_version: version.api_version(),
            kind: "AdmissionReview",
            response: &self,
        };
        // The envelope, the uid and the patch in base64 (4/3 of its size): one allocation for
        // an answer without warnings or denial.
        let patch = self.patch.as_ref().map_or(0, |p| p.len() / 3 * 4 + 4);
        let mut body = Vec::with_capacity(160 + self.uid.len() + patch);
        // Strings, booleans and maps of strings: serialisation cannot fail.
        let _ = serde_json::to_writer(&mut body, &review);
        body
    }
}

/// Writes bytes as a base64 string, encoding as the serializer writes (no intermediate string).
fn base64_string<S: serde::Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(bytes) => s.collect_str(&base64::display::Base64Display::new(
            bytes,
            &base64::engine::general_purpose::STANDARD,
        )),
        None => s.serialize_none(),
    }
}

/// A `metav1.Status` in the shape the API server itself uses for validation errors, so that
/// `kubectl` prints ours like its own: 422 `Invalid`, the qualified kind and name in the
/// message, and one cause per denying finding with its field path (findings that only warn
/// travel as warnings). kube's `Status` has the wire form of `metav1.Status` (empty fields
/// left out), so the denial is built on it.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct DenialStatus(Status);

impl DenialStatus {
    /// `FailoverService.networking.smh.solo.io "<name>" is invalid: <field>: <message>, ...`
    pub fn invalid<'f>(name: &str, denials: impl IntoIterator<Item = &'f Finding>) -> DenialStatus {
        let causes: Vec<StatusCause> = denials
            .into_iter()
            .map(|f| StatusCause {
                reason: f.code.cause_type().to_owned(),
                message: f.message.clone(),
                field: f.field.to_string(),
            })
            .collect();
        let listed: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        DenialStatus(Status {
            status: Some(StatusSummary::Failure),
            code: 422,
            message: format!(
                "FailoverService.{NETWORKING_GROUP} {name:?} is invalid: {}",
                listed.join(", ")
            ),
            // Written as `{}`, as the API server writes it.
            metadata: Some(ListMeta::default()),
            reason: "Invalid".to_owned(),
            details: Some(StatusDetails {
                name: name.to_owned(),
                group: NETWORKING_GROUP.to_owned(),
                kind: "FailoverService".to_owned(),
                uid: String::new(),
                causes,
                retry_after_seconds: 0,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FieldPath, RuleCode};
    use serde_json::{Value, json};

    fn review(r: AdmissionResponse, v: ReviewVersion) -> Value {
        serde_json::from_slice(&r.into_review(v)).unwrap()
    }

    #[test]
    fn an_allow_carries_only_the_envelope_uid_and_verdict() {
        assert_eq!(
            review(AdmissionResponse::allow("u-1"), ReviewVersion::V1Beta1),
            json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
                   "response": {"uid": "u-1", "allowed": true}})
        );
    }

    #[test]
    fn an_empty_patch_adds_neither_patch_nor_patch_type() {
        let r = AdmissionResponse::allow("u").with_patch(&json_patch::Patch(vec![]));
        assert!(!r.has_patch());
        let v = review(r, ReviewVersion::V1);
        assert!(v["response"].get("patch").is_none());
        assert!(v["response"].get("patchType").is_none());
    }

    #[test]
    fn a_patch_is_a_base64_string_with_its_type() {
        let patch: json_patch::Patch =
            serde_json::from_value(json!([{"op": "add", "path": "/a", "value": 1}])).unwrap();
        let v = review(
            AdmissionResponse::allow("u").with_patch(&patch),
            ReviewVersion::V1,
        );
        assert_eq!(v["response"]["patchType"], "JSONPatch");
        assert_eq!(
            v["response"]["patch"],
            "W3sib3AiOiJhZGQiLCJwYXRoIjoiL2EiLCJ2YWx1ZSI6MX1d"
        );
    }

    #[test]
    fn a_denial_reads_like_an_api_server_validation_error() {
        let findings = [
            Finding::new(
                RuleCode::PortNumberInvalid,
                FieldPath::from("spec.port.port"),
                "Invalid value: 0: must be between 1 and 65535, inclusive",
            ),
            Finding::new(
                RuleCode::HostnameRequired,
                FieldPath::from("spec.hostname"),
                "Required value",
            ),
        ];
        let v = review(
            AdmissionResponse::allow("u").deny(DenialStatus::invalid("fs", &findings)),
            ReviewVersion::V1,
        );
        let status = &v["response"]["status"];
        assert_eq!(v["response"]["allowed"], false);
        assert_eq!(status["code"], 422);
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(status["status"], "Failure");
        assert_eq!(status["metadata"], json!({}));
        assert_eq!(
            status["message"],
            "FailoverService.networking.smh.solo.io \"fs\" is invalid: spec.port.port: Invalid value: 0: \
             must be between 1 and 65535, inclusive, spec.hostname: Required value"
        );
        assert_eq!(
            status["details"]["causes"][1],
            json!({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.hostname"})
        );
    }
}
