//! Any bytes as the body of `/validate` and `/mutate`: the admission layer answers or refuses
//! them without panicking, and every answer is one the API server accepts: JSON, an
//! AdmissionReview echoing the request's uid, no patch from `/validate`, and from `/mutate`
//! a patch that applies to the object it was computed for.
#![no_main]

use std::sync::LazyLock;

use base64::Engine;
use failover_webhook::admission::{self, Context, Endpoint};
use failover_webhook::engine::Settings;
use failover_webhook::topology::{Topology, embedded};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static TOPOLOGY: LazyLock<Topology> = LazyLock::new(embedded);

fuzz_target!(|data: &[u8]| {
    let settings = Settings {
        default_cluster: Some("fuzz-cluster".to_owned()),
        strict_references: false,
        enforcement: Default::default(),
    };
    let ctx = Context {
        topology: &TOPOLOGY,
        settings: &settings,
    };
    for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
        let Ok(answer) = admission::review(data, endpoint, ctx) else {
            continue;
        };
        let review: Value = serde_json::from_slice(&answer.body).expect("the answer is JSON");
        assert_eq!(review["kind"], "AdmissionReview");
        let response = &review["response"];
        assert_eq!(response["uid"].as_str(), Some(answer.summary.uid.as_str()));
        assert!(response["allowed"].is_boolean());
        assert_eq!(
            response.get("patch").is_some(),
            response.get("patchType").is_some(),
            "patch and patchType come together"
        );
        let Some(patch) = response["patch"].as_str() else {
            continue;
        };
        assert_eq!(endpoint, Endpoint::Mutate, "/validate sent a patch");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .expect("the patch is base64");
        let patch: json_patch::Patch = serde_json::from_slice(&bytes).expect("the patch is JSON");
        let request: Value = serde_json::from_slice(data).expect("a review was JSON");
        let mut object = request["request"]["object"].clone();
        json_patch::patch(&mut object, &patch).expect("the patch applies to the object");
    }
});
