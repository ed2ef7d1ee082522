//! A port that the defaults cannot complete — no name and no protocol, or a name that names no
//! protocol — is denied over the wire by the API server's flow (`/mutate`, apply the patch,
//! `/validate`), on HTTP/1.1 and HTTP/2, with one field-pathed cause per missing field.

mod common;

use common::contract::{Webhook, apply_patch, assert_accepted};
use common::fixtures::{self, *};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_without_a_name_or_protocol_is_denied_over_both_protocols() {
    let server = common::server::setup().start().await;
    for mut conn in [server.h1().await, server.h2().await] {
        for (port, fields) in [
            (
                json!({"port": 9080}),
                vec!["spec.port.name", "spec.port.protocol"],
            ),
            (
                json!({"port": 9080, "name": "http1"}),
                vec!["spec.port.protocol"],
            ),
        ] {
            let mut request = fixtures::json(CREATE_V1);
            request["request"]["object"]["spec"]["port"] = port.clone();
            let mutated = conn
                .post_json("/mutate", serde_json::to_vec(&request).unwrap())
                .await
                .json();
            assert_accepted(&request, &mutated, Webhook::Mutating);
            assert_eq!(mutated["response"]["allowed"], true, "/mutate never denies");
            let object = apply_patch(&request["request"]["object"], &mutated["response"]).unwrap();
            assert_eq!(object["status"]["validationStatus"]["state"], "INVALID");

            let mut second = fixtures::with_uid(&request, "second-call");
            second["request"]["object"] = object;
            let validated = conn
                .post_json("/validate", serde_json::to_vec(&second).unwrap())
                .await
                .json();
            assert_accepted(&second, &validated, Webhook::Validating);
            let response = &validated["response"];
            assert_eq!(response["allowed"], false, "{port} over {:?}", conn.alpn);
            assert_eq!(response["status"]["code"], 422);
            let causes: Vec<&str> = response["status"]["details"]["causes"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["field"].as_str())
                .collect();
            assert_eq!(causes, fields, "{port} over {:?}", conn.alpn);
            let message = response["status"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("spec.port.protocol: Required value"),
                "{message}"
            );
        }
    }
    server.stop().await;
}
