//! The admission layer against the API server's own envelopes (tests/fixtures/admission), with
//! no server in between: every fixture gets an answer the API server accepts, with the verdict
//! and patch the contract asks for.

mod common;

use common::contract::{self, Webhook, apply_patch, assert_accepted, decoded_patch};
use common::fixtures::{self, *};
use failover_webhook::admission::{self, Context, Endpoint, ReviewError, Skip, Verdict};
use failover_webhook::engine::Settings;
use failover_webhook::topology::{Topology, embedded};
use serde_json::{Value, json};

fn answer_with(
    review: &Value,
    endpoint: Endpoint,
    topology: &Topology,
) -> (Value, admission::Summary) {
    let settings = Settings::default();
    let body = serde_json::to_vec(review).unwrap();
    let answer = admission::review(
        &body,
        endpoint,
        Context {
            topology,
            settings: &settings,
        },
    )
    .unwrap();
    (
        serde_json::from_slice(&answer.body).unwrap(),
        answer.summary,
    )
}

fn answer(review: &Value, endpoint: Endpoint) -> Value {
    answer_with(review, endpoint, &embedded()).0
}

fn webhook(endpoint: Endpoint) -> Webhook {
    match endpoint {
        Endpoint::Validate => Webhook::Validating,
        Endpoint::Mutate => Webhook::Mutating,
    }
}

#[test]
fn every_fixture_gets_an_answer_the_api_server_accepts() {
    let requests = fixtures::requests();
    assert_eq!(requests.len(), 8, "all request fixtures are present");
    for (name, request) in &requests {
        for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
            let response = answer(request, endpoint);
            assert_accepted(request, &response, webhook(endpoint));
            assert_eq!(
                response["apiVersion"], request["apiVersion"],
                "{name}: answered in the version received"
            );
        }
    }
}

#[test]
fn a_valid_create_is_allowed_and_mutate_adds_the_initial_status() {
    let request = fixtures::json(CREATE_V1);
    let validated = answer(&request, Endpoint::Validate);
    assert_eq!(validated["response"]["allowed"], true);
    assert!(validated["response"].get("warnings").is_none());

    let mutated = answer(&request, Endpoint::Mutate);
    assert_eq!(mutated["response"]["allowed"], true);
    assert_eq!(mutated["response"]["patchType"], "JSONPatch");
    assert_eq!(
        decoded_patch(&mutated).unwrap(),
        json!([{"op": "add", "path": "/status", "value": {
            "observedGeneration": 1,
            "validationStatus": {"state": "ACCEPTED", "message": ""}
        }}])
    );
}

/// The wire form of the patch is part of the contract: a base64 string (the documented form
/// of a `[]byte` field), not an array of numbers.
#[test]
fn the_mutate_response_is_pinned_byte_for_byte() {
    let settings = Settings::default();
    let answer = admission::review(
        &fixtures::bytes(CREATE_V1),
        Endpoint::Mutate,
        Context {
            topology: &embedded(),
            settings: &settings,
        },
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(answer.body).unwrap(),
        concat!(
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":"#,
            r#"{"uid":"2f7c9a1e-4b3d-4e8a-9c61-0d5b7e2a8f13","allowed":true,"patchType":"JSONPatch","#,
            r#""patch":"W3sib3AiOiJhZGQiLCJwYXRoIjoiL3N0YXR1cyIsInZhbHVlIjp7Im9ic2VydmVkR2VuZXJhdGlvbiI6"#,
            r#"MSwidmFsaWRhdGlvblN0YXR1cyI6eyJtZXNzYWdlIjoiIiwic3RhdGUiOiJBQ0NFUFRFRCJ9fX1d"}}"#
        )
    );
}

#[test]
fn an_update_to_port_70000_is_denied_like_the_reference_response() {
    let request = fixtures::json(UPDATE_V1);
    let expected = fixtures::json(UPDATE_V1_DENY);
    let response = answer(&request, Endpoint::Validate);
    let (got, want) = (&response["response"], &expected["response"]);
    assert_eq!(response["apiVersion"], expected["apiVersion"]);
    assert_eq!(response["kind"], expected["kind"]);
    assert_eq!(got["uid"], want["uid"]);
    assert_eq!(got["allowed"], false);
    let (status, want_status) = (&got["status"], &want["status"]);
    for key in ["metadata", "status", "reason", "code"] {
        assert_eq!(status[key], want_status[key], "status.{key}");
    }
    for key in ["name", "group", "kind"] {
        assert_eq!(
            status["details"][key], want_status["details"][key],
            "details.{key}"
        );
    }
    let causes = status["details"]["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0]["field"], "spec.port.port");
    assert_eq!(causes[0]["reason"], "FieldValueInvalid");
    // Wording is ours to improve; the facts (value, range) must stay.
    let message = causes[0]["message"].as_str().unwrap();
    assert!(message.starts_with("Invalid value: 70000"), "{message}");
    assert!(message.contains("65535"), "{message}");
    assert_eq!(
        status["message"].as_str().unwrap(),
        format!(
            "FailoverService.networking.smh.solo.io \"checkout-failover\" is invalid: spec.port.port: {message}"
        )
    );
}

#[test]
fn mutate_never_denies_and_records_the_invalid_status() {
    let request = fixtures::json(UPDATE_V1);
    let response = answer(&request, Endpoint::Mutate);
    assert_eq!(response["response"]["allowed"], true);
    assert!(response["response"].get("status").is_none());
    let patched = apply_patch(&request["request"]["object"], &response["response"]).unwrap();
    assert_eq!(patched["status"]["validationStatus"]["state"], "INVALID");
    assert_eq!(patched["status"]["observedGeneration"], 2);
    // The controller's translation status is never touched.
    assert_eq!(patched["status"]["translationStatus"]["state"], "ACCEPTED");
}

#[test]
fn delete_is_allowed_without_a_patch_exactly_as_the_reference_response() {
    let request = fixtures::json(DELETE_V1);
    let expected = fixtures::json(DELETE_V1_ALLOW);
    for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
        let (response, summary) = answer_with(&request, endpoint, &embedded());
        assert_eq!(response, expected, "{endpoint:?}");
        assert_eq!(summary.verdict, Verdict::Skipped(Skip::Operation));
    }
}

#[test]
fn a_dry_run_is_answered_like_the_real_request() {
    let dry = fixtures::json(CREATE_DRY_RUN_V1);
    let (validated, summary) = answer_with(&dry, Endpoint::Validate, &embedded());
    assert!(summary.dry_run);
    assert_eq!(validated["response"]["allowed"], true);
    let mutated = answer(&dry, Endpoint::Mutate);
    assert_eq!(
        decoded_patch(&mutated),
        decoded_patch(&answer(&fixtures::json(CREATE_V1), Endpoint::Mutate))
    );
}

#[test]
fn a_v1beta1_review_is_answered_in_v1beta1() {
    let request = fixtures::json(CREATE_V1BETA1);
    for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
        let response = answer(&request, endpoint);
        assert_eq!(response["apiVersion"], "admission.k8s.io/v1beta1");
        assert_eq!(response["kind"], "AdmissionReview");
        assert_eq!(response["response"]["uid"], request["request"]["uid"]);
    }
    assert!(decoded_patch(&answer(&request, Endpoint::Mutate)).is_some());
}

#[test]
fn a_status_subresource_write_is_allowed_untouched() {
    let request = fixtures::json(STATUS_UPDATE_V1);
    for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
        let (response, summary) = answer_with(&request, endpoint, &embedded());
        assert_eq!(
            response["response"],
            json!({"uid": request["request"]["uid"], "allowed": true})
        );
        assert_eq!(summary.verdict, Verdict::Skipped(Skip::SubResource));
    }
}

#[test]
fn another_kind_is_allowed_untouched() {
    let mut request = fixtures::json(CREATE_V1);
    request["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "ConfigMap"});
    request["request"]["object"]["spec"] = json!({"port": "nonsense"});
    for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
        let (response, summary) = answer_with(&request, endpoint, &embedded());
        assert_eq!(
            response["response"],
            json!({"uid": request["request"]["uid"], "allowed": true})
        );
        assert_eq!(summary.verdict, Verdict::Skipped(Skip::OtherKind));
    }
    // Same kind name in another group is not ours either.
    request["request"]["kind"] =
        json!({"group": "example.com", "version": "v1", "kind": "FailoverService"});
    let (_, summary) = answer_with(&request, Endpoint::Validate, &embedded());
    assert_eq!(summary.verdict, Verdict::Skipped(Skip::OtherKind));
}

#[test]
fn generate_name_creates_patch_cleanly_and_are_named_by_their_prefix() {
    let mutating = fixtures::json(GENERATE_NAME_MUTATING);
    let response = answer(&mutating, Endpoint::Mutate);
    assert_accepted(&mutating, &response, Webhook::Mutating);
    let patched = apply_patch(&mutating["request"]["object"], &response["response"]).unwrap();
    assert_eq!(patched["status"]["observedGeneration"], 1);

    let invalid = with_port(&mutating, 0);
    let denied = answer(&invalid, Endpoint::Validate);
    assert_eq!(denied["response"]["allowed"], false);
    assert_eq!(
        denied["response"]["status"]["details"]["name"],
        "checkout-failover-"
    );
    assert!(
        denied["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .starts_with(
                "FailoverService.networking.smh.solo.io \"checkout-failover-\" is invalid"
            )
    );

    let validating = fixtures::json(GENERATE_NAME_VALIDATING);
    assert_eq!(
        answer(&validating, Endpoint::Validate)["response"]["allowed"],
        true
    );
    let denied = answer(&with_port(&validating, 0), Endpoint::Validate);
    assert_eq!(
        denied["response"]["status"]["details"]["name"],
        "checkout-failover-x7k2p"
    );
}

/// What the API server does with both webhooks: mutate, apply the patch, validate the result.
#[test]
fn the_api_server_flow_accepts_valid_objects_and_denies_invalid_ones() {
    for base in [CREATE_V1, CREATE_V1BETA1] {
        for (port, allowed) in [(9080, true), (0, false), (70000, false)] {
            let request = with_port(&fixtures::json(base), port);
            let mutated = answer(&request, Endpoint::Mutate);
            assert_accepted(&request, &mutated, Webhook::Mutating);
            assert_eq!(mutated["response"]["allowed"], true);
            let object = apply_patch(&request["request"]["object"], &mutated["response"]).unwrap();
            let mut second = request.clone();
            second["request"]["object"] = object;
            let validated = answer(&second, Endpoint::Validate);
            assert_accepted(&second, &validated, Webhook::Validating);
            assert_eq!(
                validated["response"]["allowed"], allowed,
                "{base} port {port}"
            );
        }
    }
}

/// A denial lists only the findings that deny as causes; one that only warns (a reference
/// finding) comes as a warning on the same response, and is not counted as a cause.
#[test]
fn a_denial_has_one_cause_per_denying_finding_and_warns_the_rest() {
    let mut request = with_port(&fixtures::json(CREATE_V1), 70000);
    request["request"]["object"]["spec"]["cluster"] = json!("moon-cluster");
    let response = &answer(&request, Endpoint::Validate)["response"];
    assert_eq!(response["allowed"], false);
    let causes = response["status"]["details"]["causes"].as_array().unwrap();
    let fields: Vec<&str> = causes.iter().filter_map(|c| c["field"].as_str()).collect();
    assert_eq!(fields, ["spec.port.port"]);
    assert!(
        !response["status"]["message"]
            .as_str()
            .unwrap()
            .contains("moon-cluster"),
        "{response}"
    );
    assert_eq!(
        response["warnings"],
        json!([
            "spec.cluster: Not found: no KubernetesCluster named \"moon-cluster\" is registered"
        ])
    );
}

/// A copy of `review` whose object has `port` as its whole `spec.port`.
fn with_port_spec(review: &Value, port: Value) -> Value {
    let mut r = review.clone();
    r["request"]["object"]["spec"]["port"] = port;
    r
}

/// A port the defaults cannot complete is admitted by neither stage of the API server's flow:
/// `/mutate` records it as INVALID (and derives nothing), `/validate` denies it with a cause
/// per missing field.
#[test]
fn a_port_left_without_a_name_or_protocol_is_denied_with_field_pathed_causes() {
    for base in [CREATE_V1, CREATE_V1BETA1] {
        for (port, causes) in [
            (
                json!({"port": 9080}),
                vec![
                    ("spec.port.name", "FieldValueInvalid"),
                    ("spec.port.protocol", "FieldValueNotSupported"),
                ],
            ),
            (
                json!({"port": 9080, "name": "http1"}),
                vec![("spec.port.protocol", "FieldValueNotSupported")],
            ),
        ] {
            let request = with_port_spec(&fixtures::json(base), port.clone());
            let mutated = answer(&request, Endpoint::Mutate);
            assert_accepted(&request, &mutated, Webhook::Mutating);
            assert_eq!(mutated["response"]["allowed"], true, "{base} {port}");
            let object = apply_patch(&request["request"]["object"], &mutated["response"]).unwrap();
            assert_eq!(object["spec"]["port"], port, "nothing to derive");
            let state = &object["status"]["validationStatus"];
            assert_eq!(state["state"], "INVALID", "{base} {port}");
            assert!(
                state["message"]
                    .as_str()
                    .unwrap()
                    .contains("spec.port.protocol: Required value: set a protocol"),
                "{state}"
            );

            let mut second = request.clone();
            second["request"]["object"] = object;
            let validated = answer(&second, Endpoint::Validate);
            assert_accepted(&second, &validated, Webhook::Validating);
            let response = &validated["response"];
            assert_eq!(response["allowed"], false, "{base} {port}");
            let got: Vec<(&str, &str)> = response["status"]["details"]["causes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c["field"].as_str().unwrap(), c["reason"].as_str().unwrap()))
                .collect();
            assert_eq!(got, causes, "{base} {port}");
            for cause in response["status"]["details"]["causes"].as_array().unwrap() {
                let message = cause["message"].as_str().unwrap();
                assert!(message.starts_with("Required value: "), "{message}");
                assert!(
                    message.contains("\"http-api\""),
                    "says how to fix it: {message}"
                );
            }
            assert_eq!(response["status"]["code"], 422);
        }
    }
}

/// An object stored before the rule existed, with a port name that names no protocol, can still
/// be relabelled (and so deleted by tooling that edits finalizers): the findings come back as
/// warnings, and nothing is patched.
#[test]
fn a_label_edit_of_a_stored_object_without_a_protocol_goes_through_with_warnings() {
    let mut request = fixtures::json(UPDATE_V1);
    let mut old = request["request"]["oldObject"].clone();
    old["spec"]["port"] = json!({"port": 9080, "name": "web"});
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"team": "checkout"});
    request["request"]["oldObject"] = old;
    request["request"]["object"] = new;

    let validated = answer(&request, Endpoint::Validate);
    assert_accepted(&request, &validated, Webhook::Validating);
    assert_eq!(validated["response"]["allowed"], true);
    assert_eq!(
        validated["response"]["warnings"],
        json!([
            "spec.port.protocol: Required value: set a protocol such as \"http\", or a port name that names one, such as \"http-api\""
        ])
    );
    let mutated = answer(&request, Endpoint::Mutate);
    assert_accepted(&request, &mutated, Webhook::Mutating);
    assert_eq!(mutated["response"]["allowed"], true);
    assert!(mutated["response"].get("patch").is_none(), "{mutated}");

    // Changing the port of that object is judged: the missing protocol now denies.
    let mut moved = request.clone();
    moved["request"]["object"]["spec"]["port"]["port"] = json!(9081);
    let denied = answer(&moved, Endpoint::Validate);
    assert_eq!(denied["response"]["allowed"], false);
    assert_eq!(
        denied["response"]["status"]["details"]["causes"][0]["field"],
        "spec.port.protocol"
    );
}

#[test]
fn warnings_are_capped_in_length_and_count_and_carry_no_control_characters() {
    let mut request = fixtures::json(CREATE_V1);
    let services: Vec<Value> = (0..30)
        .map(|i| json!({"name": format!("missing-{i}\n{}", "x".repeat(i)), "namespace": "shop", "cluster": "mgmt-cluster"}))
        .collect();
    request["request"]["object"]["spec"]["failoverServices"] = Value::from(services);
    let mut lenient = request.clone();
    // Valid names, unknown services: reference findings, which warn without denying.
    let unknown: Vec<Value> = (0..30)
        .map(|i| json!({"name": format!("missing-{i}"), "namespace": "shop", "cluster": "mgmt-cluster"}))
        .collect();
    lenient["request"]["object"]["spec"]["failoverServices"] = Value::from(unknown);
    for r in [&request, &lenient] {
        let response = answer(r, Endpoint::Validate);
        let warnings = response["response"]["warnings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(warnings.len() <= 20, "{} warnings", warnings.len());
        for w in &warnings {
            let w = w.as_str().unwrap();
            assert!(w.chars().count() <= 120, "{w}");
            assert!(!w.chars().any(char::is_control), "{w:?}");
        }
    }
    let response = answer(&lenient, Endpoint::Validate);
    assert_eq!(response["response"]["allowed"], true);
    let warnings = response["response"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 20);
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("spec.failoverServices[")
    );
    assert!(warnings[19].as_str().unwrap().contains("more findings"));
    // The mutating webhook leaves judging to the validating one: no warnings twice.
    assert!(
        answer(&lenient, Endpoint::Mutate)["response"]
            .get("warnings")
            .is_none()
    );
}

#[test]
fn envelopes_that_are_not_reviews_are_refused_with_a_reason() {
    let settings = Settings::default();
    let topology = embedded();
    let ctx = Context {
        topology: &topology,
        settings: &settings,
    };
    let refuse = |body: &[u8]| admission::review(body, Endpoint::Validate, ctx).unwrap_err();
    assert!(matches!(refuse(b"{not json"), ReviewError::NotJson(_)));
    assert!(matches!(refuse(b"[]"), ReviewError::NotAReview));
    assert!(matches!(
        refuse(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#),
        ReviewError::NoRequest
    ));
    assert!(matches!(
        refuse(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}"#),
        ReviewError::NoUid
    ));
    // Nesting beyond the parser's depth limit is refused, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(refuse(deep.as_bytes()), ReviewError::NotJson(_)));
}

/// The checker used throughout these tests recognises every failure in the catalogue, so
/// "no failure found" means something.
#[test]
fn the_contract_checker_flags_every_catalogued_failure() {
    let catalogue = fixtures::json(NEGATIVE_RESPONSES);
    let uid = catalogue["request_uid"].as_str().unwrap();
    for case in catalogue["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let webhook = if case["webhook"].as_str().unwrap().starts_with("validating") {
            Webhook::Validating
        } else {
            Webhook::Mutating
        };
        let operation = if id == "patch-on-delete" {
            "DELETE"
        } else {
            "CREATE"
        };
        let request = json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "operation": operation,
                        "object": {"metadata": {"name": "x"}, "spec": {}}}
        });
        let found = contract::failures(&request, &case["response"], webhook);
        if case["apiserver_error"].is_null() {
            assert!(found.is_empty(), "{id}: {found:?}");
        } else {
            assert!(found.contains(&id), "{id} not flagged: {found:?}");
        }
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-zA-Z0-9 ./~-]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("spec".to_owned()),
                        Just("port".to_owned()),
                        Just("failoverServices".to_owned()),
                        Just("hostname".to_owned()),
                        Just("status".to_owned()),
                        Just("metadata".to_owned()),
                        "[a-z/~]{1,6}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever object, old object and operation arrive, both webhooks answer with a
        /// response the API server accepts, and a patch that applies to the object.
        #[test]
        fn any_object_gets_an_acceptable_answer(
            object in json_value(),
            old in json_value(),
            spec in json_value(),
            op in prop_oneof![Just("CREATE"), Just("UPDATE"), Just("DELETE"), Just("CONNECT"), Just("")],
        ) {
            let mut request = fixtures::json(UPDATE_V1);
            let mut object = object;
            if let Some(map) = object.as_object_mut() {
                map.insert("spec".to_owned(), spec);
            }
            request["request"]["object"] = object;
            request["request"]["oldObject"] = old;
            request["request"]["operation"] = Value::from(op);
            for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
                let response = answer(&request, endpoint);
                let failures = contract::failures(&request, &response, webhook(endpoint));
                prop_assert!(failures.is_empty(), "{:?}: {}", failures, response);
            }
        }
    }
}
