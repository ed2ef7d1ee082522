//! The AdmissionReview fixtures in `tests/fixtures/admission/`, as the API server builds them.

use std::path::PathBuf;

use serde_json::Value;

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/admission")
}

pub fn bytes(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn json(name: &str) -> Value {
    serde_json::from_slice(&bytes(name)).unwrap()
}

/// Every request fixture, by file name, sorted.
pub fn requests() -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".request.json"))
        .collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), json(&n))).collect()
}

pub const CREATE_V1: &str = "01-create-v1.request.json";
pub const UPDATE_V1: &str = "02-update-v1.request.json";
pub const UPDATE_V1_DENY: &str = "02-update-v1.response-deny.json";
pub const DELETE_V1: &str = "03-delete-v1.request.json";
pub const DELETE_V1_ALLOW: &str = "03-delete-v1.response-allow.json";
pub const CREATE_DRY_RUN_V1: &str = "04-create-dryrun-v1.request.json";
pub const CREATE_V1BETA1: &str = "05-create-v1beta1.request.json";
pub const STATUS_UPDATE_V1: &str = "06-status-subresource-update-v1.request.json";
pub const GENERATE_NAME_MUTATING: &str = "07a-create-generatename-mutating-stage-v1.request.json";
pub const GENERATE_NAME_VALIDATING: &str =
    "07b-create-generatename-validating-stage-v1.request.json";
pub const NEGATIVE_RESPONSES: &str = "08-negative-responses.json";

/// A copy of `review` whose object has `port` as `spec.port.port` (an invalid port makes a
/// review that `/validate` denies).
pub fn with_port(review: &Value, port: i64) -> Value {
    let mut r = review.clone();
    r["request"]["object"]["spec"]["port"]["port"] = Value::from(port);
    r
}

/// A copy of `review` with a new uid, so responses can be told apart.
pub fn with_uid(review: &Value, uid: &str) -> Value {
    let mut r = review.clone();
    r["request"]["uid"] = Value::from(uid);
    r
}
