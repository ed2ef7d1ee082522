//! The API server's checks on a webhook response, as catalogued in
//! `fixtures/admission/08-negative-responses.json`: each returns the catalogue id of the
//! failure a response would cause, so tests can assert that none of ours causes any.

use base64::Engine as _;
use serde_json::Value;

/// Which webhook answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Webhook {
    Validating,
    Mutating,
}

/// Every catalogued failure `response` would meet as the answer to `request` (both whole
/// AdmissionReviews). Empty means the API server accepts it.
pub fn failures(request: &Value, response: &Value, webhook: Webhook) -> Vec<&'static str> {
    let mut found = Vec::new();
    let api_version = request["apiVersion"]
        .as_str()
        .unwrap_or("admission.k8s.io/v1");
    if response.get("apiVersion").and_then(Value::as_str) != Some(api_version)
        || response.get("kind").and_then(Value::as_str) != Some("AdmissionReview")
    {
        found.push("missing-typemeta");
    }
    let Some(r) = response.get("response").filter(|r| r.is_object()) else {
        found.push("response-absent");
        return found;
    };
    if r.get("uid") != request["request"].get("uid") {
        found.push("uid-mismatch");
    }
    let patch = r.get("patch");
    let patch_type = r.get("patchType");
    let has_patch = patch.and_then(Value::as_str).is_some_and(|p| !p.is_empty());
    if patch.is_some() && patch_type.is_none() {
        found.push("patch-without-patchType");
    }
    if patch_type.is_some() && patch_type.and_then(Value::as_str) != Some("JSONPatch") {
        found.push("patchType-not-JSONPatch");
    }
    if patch.is_some_and(|p| !p.is_string()) {
        found.push("patch-not-base64-string");
    }
    if webhook == Webhook::Validating && (patch.is_some() || patch_type.is_some()) {
        found.push("validating-returns-patch");
    }
    if has_patch && request["request"]["operation"] == "DELETE" {
        found.push("patch-on-delete");
    }
    match r.get("allowed") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => match r.get("status") {
            None | Some(Value::Null) => found.push("deny-without-status"),
            Some(status) => {
                if status["code"].as_u64().is_none_or(|c| c < 400) {
                    found.push("deny-code-below-400");
                }
            }
        },
        _ => found.push("allowed-missing"),
    }
    if has_patch {
        let patched = apply_patch(&request["request"]["object"], r);
        if patched.is_err() {
            found.push("add-under-missing-parent");
        }
    }
    found
}

/// Applies the response's patch to `object`, as the API server would.
pub fn apply_patch(object: &Value, response: &Value) -> Result<Value, String> {
    let Some(patch) = response.get("patch").and_then(Value::as_str) else {
        return Ok(object.clone());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .map_err(|e| e.to_string())?;
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let mut doc = object.clone();
    json_patch::patch(&mut doc, &patch).map_err(|e| e.to_string())?;
    Ok(doc)
}

/// The decoded patch of a response, for assertions on its operations.
pub fn decoded_patch(response: &Value) -> Option<Value> {
    let patch = response["response"]["patch"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .unwrap();
    Some(serde_json::from_slice(&bytes).unwrap())
}

/// Panics with the failures if the API server would reject `response`.
pub fn assert_accepted(request: &Value, response: &Value, webhook: Webhook) {
    let failures = failures(request, response, webhook);
    assert!(
        failures.is_empty(),
        "the API server would reject this {webhook:?} response ({failures:?}): {response:#}"
    );
}
