//! Rolling the webhook out: audit mode (`--enforcement warn`), per-class enforcement, the
//! skip-rules annotation and the `would_deny` metric, through the real server over TLS.

mod common;

use std::time::Duration;

use common::client::Conn;
use common::contract::{Webhook, assert_accepted};
use common::fixtures::{self, CREATE_V1};
use common::metrics::{scrape, value};
use common::server::TestServer;
use failover_webhook::enforcement::{Action, Enforcement};
use failover_webhook::engine::Settings;
use failover_webhook::finding::{RuleClass, RuleCode};
use failover_webhook::skip::ANNOTATION;
use serde_json::{Value, json};

/// A hostname the embedded topology's `reviews-failover` already holds.
const TAKEN_HOSTNAME: &str = "reviews.bookinfo.failover";

async fn start(enforcement: Enforcement) -> TestServer {
    let mut setup = common::server::setup();
    setup.config.settings = Settings {
        enforcement,
        ..Settings::default()
    };
    setup.start().await
}

/// The CREATE fixture with `port` and `hostname`, and the skip-rules annotation when given.
fn create(uid: &str, port: i64, hostname: &str, skip_rules: Option<&str>) -> Value {
    let mut review =
        fixtures::with_uid(&fixtures::with_port(&fixtures::json(CREATE_V1), port), uid);
    let object = &mut review["request"]["object"];
    object["spec"]["hostname"] = json!(hostname);
    if let Some(codes) = skip_rules {
        object["metadata"]["annotations"][ANNOTATION] = json!(codes);
    }
    review
}

async fn validate(conn: &mut Conn, review: &Value) -> Value {
    let reply = conn
        .post_json("/validate?timeout=10s", serde_json::to_vec(review).unwrap())
        .await;
    let answer = reply.json();
    assert_accepted(review, &answer, Webhook::Validating);
    answer
}

fn warnings(answer: &Value) -> Vec<String> {
    answer["response"]["warnings"]
        .as_array()
        .map(|w| w.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn causes(answer: &Value) -> Vec<String> {
    answer["response"]["status"]["details"]["causes"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| c["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn would_deny_series(code: RuleCode) -> String {
    format!("failover_webhook_would_deny_total{{code=\"{code}\"}}")
}

async fn would_deny(server: &TestServer, code: RuleCode) -> f64 {
    let text = scrape(server.probe_addr).await;
    value(&text, &would_deny_series(code))
        .unwrap_or_else(|| panic!("no {} in\n{text}", would_deny_series(code)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_warn_mode_a_denied_object_is_allowed_with_would_deny_warnings() {
    let server = start(Enforcement::warn()).await;
    let mut conn = server.h2().await;
    let review = create("audit-1", 70000, TAKEN_HOSTNAME, None);
    let answer = validate(&mut conn, &review).await;
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    assert!(answer["response"].get("status").is_none());
    let w = warnings(&answer);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w.iter()
            .any(|w| w.starts_with("would deny: spec.hostname: ")),
        "{w:?}"
    );
    assert!(
        w.contains(
            &"would deny: spec.port.port: Invalid value: 70000: must be between 1 and 65535, inclusive"
                .to_owned()
        ),
        "{w:?}"
    );
    assert!(w.iter().all(|w| w.chars().count() <= 120));

    // `/mutate` behaves as usual: a patch with the status, which still says INVALID.
    let mutated = conn
        .post_json("/mutate", serde_json::to_vec(&review).unwrap())
        .await
        .json();
    assert_accepted(&review, &mutated, Webhook::Mutating);
    assert_eq!(mutated["response"]["patchType"], "JSONPatch");
    let object =
        common::contract::apply_patch(&review["request"]["object"], &mutated["response"]).unwrap();
    assert_eq!(object["status"]["validationStatus"]["state"], "INVALID");
    assert!(mutated["response"].get("warnings").is_none());

    let text = scrape(server.probe_addr).await;
    assert_eq!(
        value(&text, &would_deny_series(RuleCode::PortNumberInvalid)),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &would_deny_series(RuleCode::HostnameConflict)),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"failover_webhook_findings_total{endpoint="validate",rule="PortNumberInvalid",effect="would_deny"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"failover_webhook_requests_total{endpoint="validate",operation="CREATE",verdict="allowed",code="200"}"#
        ),
        Some(1.0)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_deny_mode_the_same_object_is_denied_and_counted_the_same() {
    let server = start(Enforcement::default()).await;
    let mut conn = server.h1().await;
    assert_eq!(would_deny(&server, RuleCode::PortNumberInvalid).await, 0.0);
    let review = create("enforce-1", 70000, TAKEN_HOSTNAME, None);
    let answer = validate(&mut conn, &review).await;
    assert_eq!(answer["response"]["allowed"], false);
    assert_eq!(causes(&answer), ["spec.hostname", "spec.port.port"]);
    assert!(warnings(&answer).is_empty(), "{answer}");
    // `/mutate` judges the same object too; only `/validate` counts it.
    conn.post_json("/mutate", serde_json::to_vec(&review).unwrap())
        .await;
    assert_eq!(would_deny(&server, RuleCode::PortNumberInvalid).await, 1.0);
    assert_eq!(would_deny(&server, RuleCode::HostnameConflict).await, 1.0);

    let valid = create("enforce-2", 9080, "checkout.shop.failover", None);
    assert_eq!(
        validate(&mut conn, &valid).await["response"]["allowed"],
        true
    );
    assert_eq!(would_deny(&server, RuleCode::PortNumberInvalid).await, 1.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_override_audits_conflicts_while_spec_rules_enforce() {
    let server = start(Enforcement::default().with(RuleClass::Conflict, Action::Warn)).await;
    let mut conn = server.h1().await;

    let both = validate(&mut conn, &create("class-1", 70000, TAKEN_HOSTNAME, None)).await;
    assert_eq!(both["response"]["allowed"], false);
    assert_eq!(
        causes(&both),
        ["spec.port.port"],
        "the conflict does not deny"
    );
    let w = warnings(&both);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("would deny: spec.hostname: "), "{w:?}");

    let conflict_only = validate(&mut conn, &create("class-2", 9080, TAKEN_HOSTNAME, None)).await;
    assert_eq!(
        conflict_only["response"]["allowed"], true,
        "{conflict_only}"
    );
    assert!(warnings(&conflict_only)[0].starts_with("would deny: spec.hostname: "));

    assert_eq!(would_deny(&server, RuleCode::HostnameConflict).await, 2.0);
    assert_eq!(would_deny(&server, RuleCode::PortNumberInvalid).await, 1.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_skip_annotation_admits_a_conflict_with_a_warning_naming_it() {
    let server = start(Enforcement::default()).await;
    let mut conn = server.h2().await;

    let skipped = validate(
        &mut conn,
        &create("skip-1", 9080, TAKEN_HOSTNAME, Some("HostnameConflict")),
    )
    .await;
    assert_eq!(skipped["response"]["allowed"], true, "{skipped}");
    let w = warnings(&skipped);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("skipped by failover-webhook.smh.solo.io/skip-rules: spec.hostname: "),
        "{w:?}"
    );
    assert_eq!(
        would_deny(&server, RuleCode::HostnameConflict).await,
        0.0,
        "a skipped finding would not deny"
    );

    // A spec code cannot be skipped, and an unknown code is named: both still deny.
    let refused = validate(
        &mut conn,
        &create(
            "skip-2",
            70000,
            TAKEN_HOSTNAME,
            Some("PortNumberInvalid,HostnameConflit"),
        ),
    )
    .await;
    assert_eq!(refused["response"]["allowed"], false);
    assert_eq!(causes(&refused), ["spec.hostname", "spec.port.port"]);
    assert_eq!(
        warnings(&refused),
        [
            "failover-webhook.smh.solo.io/skip-rules: PortNumberInvalid is a spec rule and cannot be skipped; fix the object",
            "failover-webhook.smh.solo.io/skip-rules: unknown rule code \"HostnameConflit\" ignored (did you mean HostnameConflict?)",
        ]
    );
    assert_eq!(would_deny(&server, RuleCode::HostnameConflict).await, 1.0);
    assert_eq!(would_deny(&server, RuleCode::PortNumberInvalid).await, 1.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_warn_mode_a_skipped_finding_is_a_skip_not_a_would_deny() {
    let server = start(Enforcement::warn()).await;
    let mut conn = server.h1().await;
    let answer = validate(
        &mut conn,
        &create("skip-warn", 70000, TAKEN_HOSTNAME, Some("HostnameConflict")),
    )
    .await;
    assert_eq!(answer["response"]["allowed"], true);
    let w = warnings(&answer);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("would deny: spec.port.port: "), "{w:?}");
    assert!(
        w[1].starts_with("skipped by failover-webhook.smh.solo.io/skip-rules: "),
        "{w:?}"
    );
    assert_eq!(would_deny(&server, RuleCode::HostnameConflict).await, 0.0);
    assert_eq!(would_deny(&server, RuleCode::PortNumberInvalid).await, 1.0);
    server.stop().await;
}

/// The command line reaches the server: `failover-webhook serve --enforcement conflict=warn`
/// logs its enforcement and audits conflicts; a bad value is a usage error (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serve_process_takes_its_enforcement_from_the_command_line() {
    let pki = common::pki::Pki::new("test CA");
    let dir = tempfile::tempdir().unwrap();
    let serving = pki.server("serving");
    let cert = common::server::write(&dir.path().join("tls.crt"), &serving.cert_pem);
    let key = common::server::write(&dir.path().join("tls.key"), &serving.key_pem);

    let mut p = common::server::spawn_serve(&cert, &key, &["--enforcement", "conflict=warn"]).await;
    let logged = p
        .logs
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains(r#""enforcement":"spec=deny,reference=deny,conflict=warn""#));
    assert!(logged, "{:#?}", p.logs.lock().unwrap());
    let config = common::client::client_config(&pki.ca_pem, &[common::client::H1], None);
    let mut conn = Conn::open(p.addr, config).await.unwrap();
    let answer = validate(&mut conn, &create("process-1", 9080, TAKEN_HOSTNAME, None)).await;
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    // The log names the object and what would deny it: the per-object audit record.
    let logs = p.logs.clone();
    let line = common::server::eventually(Duration::from_secs(10), "the audit log line", || {
        let found = logs
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("allowed; would deny"))
            .cloned();
        async move { found }
    })
    .await;
    let line: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["fields"]["would_deny"], "HostnameConflict", "{line}");
    assert_eq!(line["span"]["namespace"], "service-mesh-hub", "{line}");
    assert_eq!(line["span"]["uid"], "process-1", "{line}");
    p.signal(libc::SIGTERM);
    assert!(p.wait(Duration::from_secs(15)).await.success());

    // From the option and from the environment alike.
    for (args, env) in [
        (&["--enforcement", "audit"][..], None),
        (&[][..], Some("warn,conflict=audit")),
    ] {
        let mut command = tokio::process::Command::new(common::server::binary());
        command
            .args(["serve", "--tls-cert", "c", "--tls-key", "k"])
            .args(args);
        if let Some(value) = env {
            command.env("FAILOVER_WEBHOOK_ENFORCEMENT", value);
        }
        let out = command.output().await.unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("unknown action \"audit\": expected deny or warn"),
            "{stderr}"
        );
    }
}

/// The rollout report: `kubectl get failoverservices -A -o yaml | failover-webhook check --kube -`
/// judges the cluster's own FailoverServices against the cluster (here a fake API server), exits
/// 1 and names each object that would be denied; a skip-rules annotation is honoured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_kube_reports_the_cluster_objects_that_would_be_denied() {
    use failover_webhook::manifest;
    use tokio::io::AsyncWriteExt;

    let api = common::apiserver::FakeApi::start().await;
    let mut failover_services = Vec::new();
    let example = |path: &str| {
        let file = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&file).unwrap();
        manifest::parse(&file, &text).unwrap().remove(0).value
    };
    let mut accepted = example("examples/conflict/hostname-conflict.yaml");
    accepted["metadata"]["name"] = json!("accepted-conflict");
    accepted["metadata"]["annotations"] = json!({ANNOTATION: "HostnameConflict"});
    let cluster = manifest::parse("embedded", failover_webhook::topology::EMBEDDED_YAML)
        .unwrap()
        .into_iter()
        .map(|d| d.value)
        .chain([
            example("examples/valid/checkout-failover.yaml"),
            example("examples/spec/port-number-invalid.yaml"),
            accepted,
        ]);
    for object in cluster {
        if object["kind"] == "FailoverService" {
            failover_services.push(object.clone());
        }
        api.apply(object);
    }
    // What `kubectl get failoverservices -A -o yaml` prints (JSON is YAML).
    let listed = json!({"apiVersion": "v1", "kind": "List", "items": failover_services});

    let mut child = tokio::process::Command::new(common::server::binary())
        .args(["check", "--kube", "--output", "json", "-"])
        .env("KUBECONFIG", &api.kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&serde_json::to_vec(&listed).unwrap())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("checked 4 FailoverService(s): 2 denied"),
        "{stderr}"
    );
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut denied: Vec<(String, String)> = findings
        .iter()
        .filter(|f| f["deny"] == true)
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    denied.sort();
    assert_eq!(
        denied,
        [
            (
                "port-number-invalid".to_owned(),
                "PortNumberInvalid".to_owned()
            ),
            // The annotation accepts the conflict for its own object only.
            ("reviews-failover".to_owned(), "HostnameConflict".to_owned()),
        ]
    );
    let skipped: Vec<&Value> = findings
        .iter()
        .filter(|f| f["name"] == "accepted-conflict")
        .collect();
    assert_eq!(skipped.len(), 1, "{findings:?}");
    assert_eq!(skipped[0]["effect"], "skipped");
    assert_eq!(skipped[0]["deny"], false);
}
