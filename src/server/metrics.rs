//! The Prometheus metrics of the server, in one explicit registry served on `/metrics`.
//!
//! Everything is named `failover_webhook_*`. Label values come from closed sets (endpoints,
//! operations, verdicts, rule codes, kinds), never from request data, so a hostile caller cannot
//! grow the series count.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::tls::HandshakeFailure;
use crate::admission::{Endpoint, Operation, Summary, Verdict};
use crate::api::Kind;
use crate::finding::RuleCode;
use crate::topology::Topology;

/// The content type of the exposition (OpenMetrics text, which Prometheus scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    operation: &'static str,
    verdict: &'static str,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    endpoint: &'static str,
    rule: &'static str,
    effect: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// The `endpoint` label of a request to neither `/validate` nor `/mutate`.
const OTHER_ENDPOINT: &str = "other";

/// Latency buckets, in seconds: an evaluation takes microseconds, the API server's budget is
/// seconds; the buckets cover both ends.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The operations and verdicts of an answered review, in the order of [`Answered`]'s tables.
const OPERATIONS: [Operation; 5] = [
    Operation::Create,
    Operation::Update,
    Operation::Delete,
    Operation::Connect,
    Operation::Other,
];
const VERDICTS: [&str; 3] = ["allowed", "denied", "skipped"];

fn operation_index(op: Operation) -> usize {
    match op {
        Operation::Create => 0,
        Operation::Update => 1,
        Operation::Delete => 2,
        Operation::Connect => 3,
        Operation::Other => 4,
    }
}

fn verdict_index(verdict: Verdict) -> usize {
    match verdict {
        Verdict::Allowed => 0,
        Verdict::Denied => 1,
        Verdict::Skipped(_) => 2,
    }
}

/// The series every answered review of one endpoint updates, resolved once: looking a label
/// set up in a family hashes it and takes a lock on every request.
#[derive(Debug)]
struct Answered {
    duration: Histogram,
    /// `requests` with code 200, by operation and verdict.
    ok: [[Counter; 3]; 5],
}

impl Answered {
    /// The series of a review answered with `code`, when it is one resolved beforehand.
    fn ok(&self, operation: Operation, verdict: Verdict, code: u16) -> Option<&Counter> {
        (code == 200).then_some(())?;
        self.ok
            .get(operation_index(operation))?
            .get(verdict_index(verdict))
    }

    fn new(
        endpoint: Endpoint,
        requests: &Family<RequestLabels, Counter>,
        duration: &Family<EndpointLabels, Histogram, fn() -> Histogram>,
    ) -> Answered {
        let endpoint = endpoint.as_str();
        Answered {
            duration: duration.get_or_create(&EndpointLabels { endpoint }).clone(),
            ok: OPERATIONS.map(|op| {
                VERDICTS.map(|verdict| {
                    requests
                        .get_or_create(&RequestLabels {
                            endpoint,
                            operation: op.as_str(),
                            verdict,
                            code: 200,
                        })
                        .clone()
                })
            }),
        }
    }
}

/// The server's metrics. Cheap to update from any task: every metric is atomic.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    validate: Answered,
    mutate: Answered,
    in_flight: Gauge,
    body_bytes: Gauge,
    findings: Family<FindingLabels, Counter>,
    would_deny: Family<CodeLabels, Counter>,
    topology_objects: Family<KindLabels, Gauge>,
    cert_reloads: Family<ResultLabels, Counter>,
    cert_expiry: Gauge,
    tls_failures: Family<ReasonLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("failover_webhook");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Admission requests answered, by endpoint, operation, verdict and HTTP status code",
            requests.clone(),
        );
        let duration = Family::<EndpointLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register_with_unit(
            "request_duration",
            "Time from the request's arrival to its answer",
            Unit::Seconds,
            duration.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "requests_in_flight",
            "Admission requests being answered now",
            in_flight.clone(),
        );
        let body_bytes = Gauge::default();
        registry.register(
            "request_body_bytes",
            "Bytes of request bodies held in memory now",
            body_bytes.clone(),
        );
        let findings = Family::<FindingLabels, Counter>::default();
        registry.register(
            "findings",
            "Findings reported, by endpoint, rule code and effect (deny, would_deny, skipped, warn)",
            findings.clone(),
        );
        let would_deny = Family::<CodeLabels, Counter>::default();
        registry.register(
            "would_deny",
            "Findings of /validate that would deny with every rule class enforced, by rule code, \
             whether enforcement denied them or only warned",
            would_deny.clone(),
        );
        // Every code exists from the start at 0, so a rollout reads "nothing would be denied"
        // from a series, not from its absence.
        for code in RuleCode::ALL {
            drop(would_deny.get_or_create(&CodeLabels {
                code: code.as_str(),
            }));
        }
        let topology_objects = Family::<KindLabels, Gauge>::default();
        registry.register(
            "topology_objects",
            "Objects in the topology the rules read, by kind",
            topology_objects.clone(),
        );
        let cert_reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "certificate_reloads",
            "Serving certificate reloads after a change on disk, by result",
            cert_reloads.clone(),
        );
        let cert_expiry = Gauge::default();
        registry.register(
            "certificate_expiry_timestamp_seconds",
            "notAfter of the serving certificate in use, in unix seconds",
            cert_expiry.clone(),
        );
        let tls_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes on the admission listener that did not complete, by reason",
            tls_failures.clone(),
        );
        // Every result and reason exists from the start, so an alert has a series to read.
        for result in ["success", "failure"] {
            drop(cert_reloads.get_or_create(&ResultLabels { result }));
        }
        for reason in HandshakeFailure::ALL {
            drop(tls_failures.get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            }));
        }
        Metrics {
            validate: Answered::new(Endpoint::Validate, &requests, &duration),
            mutate: Answered::new(Endpoint::Mutate, &requests, &duration),
            registry,
            requests,
            duration,
            in_flight,
            body_bytes,
            findings,
            would_deny,
            topology_objects,
            cert_reloads,
            cert_expiry,
            tls_failures,
        }
    }

    /// For metrics kept elsewhere (the cluster watchers) to join the served registry.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Counts one answered request. `summary` is absent when the request was not an
    /// AdmissionReview.
    pub fn observe_request(
        &self,
        endpoint: Endpoint,
        summary: Option<&Summary>,
        code: u16,
        elapsed: Duration,
    ) {
        let answered = match endpoint {
            Endpoint::Validate => &self.validate,
            Endpoint::Mutate => &self.mutate,
        };
        match summary {
            Some(s) if let Some(counter) = answered.ok(s.operation, s.verdict, code) => {
                counter.inc();
            }
            _ => {
                let labels = RequestLabels {
                    endpoint: endpoint.as_str(),
                    operation: summary.map_or("", |s| s.operation.as_str()),
                    verdict: summary.map_or("error", |s| s.verdict.as_str()),
                    code,
                };
                self.requests.get_or_create(&labels).inc();
            }
        }
        answered.duration.observe(elapsed.as_secs_f64());
        for &(code, effect) in summary.map_or(&[][..], |s| &s.findings) {
            self.findings
                .get_or_create(&FindingLabels {
                    endpoint: endpoint.as_str(),
                    rule: code.as_str(),
                    effect: effect.as_str(),
                })
                .inc();
            // `/mutate` judges the same object first; counting both would count it twice.
            if endpoint == Endpoint::Validate && effect.would_deny() {
                self.would_deny
                    .get_or_create(&CodeLabels {
                        code: code.as_str(),
                    })
                    .inc();
            }
        }
    }

    /// Counts one request refused before it reached an endpoint's handler: a path other than
    /// `/validate` and `/mutate` (`endpoint` is `None`), or a method other than POST.
    pub fn observe_refused(&self, endpoint: Option<Endpoint>, code: u16, elapsed: Duration) {
        let endpoint = endpoint.map_or(OTHER_ENDPOINT, Endpoint::as_str);
        self.requests
            .get_or_create(&RequestLabels {
                endpoint,
                operation: "",
                verdict: "error",
                code,
            })
            .inc();
        self.duration
            .get_or_create(&EndpointLabels { endpoint })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one TLS handshake that did not complete.
    pub fn tls_handshake_failed(&self, reason: HandshakeFailure) {
        self.tls_failures
            .get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// Marks a request as in flight until the returned guard drops.
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// The gauge of request-body bytes held, updated by the body reader.
    pub fn body_bytes(&self) -> Gauge {
        self.body_bytes.clone()
    }

    pub fn cert_reloaded(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.cert_reloads
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    pub fn set_cert_expiry(&self, not_after: Option<i64>) {
        self.cert_expiry.set(not_after.unwrap_or(0));
    }

    /// The exposition text, with the topology counts read at scrape time (the topology can be
    /// replaced at any moment; counting on scrape is always current and costs nothing between
    /// scrapes).
    pub fn encode(&self, topology: &Topology) -> String {
        for kind in Kind::ALL {
            let count = i64::try_from(topology.count(kind)).unwrap_or(i64::MAX);
            self.topology_objects
                .get_or_create(&KindLabels {
                    kind: kind.as_str(),
                })
                .set(count);
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Decrements the in-flight gauge when dropped, however the request ends.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{ReviewVersion, Skip};
    use crate::topology::Topology;

    fn summary(operation: Operation, verdict: Verdict) -> Summary {
        Summary {
            uid: "u".into(),
            version: ReviewVersion::V1,
            operation,
            group: String::new(),
            kind: String::new(),
            namespace: String::new(),
            name: String::new(),
            dry_run: false,
            verdict,
            patched: false,
            findings: Vec::new(),
        }
    }

    fn count(text: &str, series: &str) -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    /// The pre-resolved series are the ones the exposition shows, one per operation and
    /// verdict, and the others still go through the family.
    #[test]
    fn each_answered_review_counts_in_its_own_series() {
        let metrics = Metrics::new();
        let verdicts = [
            Verdict::Allowed,
            Verdict::Denied,
            Verdict::Skipped(Skip::Operation),
        ];
        for (i, op) in OPERATIONS.into_iter().enumerate() {
            for (j, verdict) in verdicts.into_iter().enumerate() {
                for _ in 0..(1 + i * 3 + j) {
                    metrics.observe_request(
                        Endpoint::Mutate,
                        Some(&summary(op, verdict)),
                        200,
                        Duration::from_micros(50),
                    );
                }
            }
        }
        metrics.observe_request(Endpoint::Validate, None, 400, Duration::from_micros(50));
        let text = metrics.encode(&Topology::empty());
        for (i, op) in OPERATIONS.into_iter().enumerate() {
            for (j, verdict) in VERDICTS.into_iter().enumerate() {
                let series = format!(
                    r#"failover_webhook_requests_total{{endpoint="mutate",operation="{}",verdict="{verdict}",code="200"}}"#,
                    op.as_str()
                );
                assert_eq!(
                    count(&text, &series),
                    Some((1 + i * 3 + j) as u64),
                    "{series}"
                );
                let validate = series.replace("mutate", "validate");
                assert_eq!(count(&text, &validate), Some(0), "{validate}");
            }
        }
        assert_eq!(
            count(
                &text,
                r#"failover_webhook_requests_total{endpoint="validate",operation="",verdict="error",code="400"}"#
            ),
            Some(1)
        );
        assert_eq!(
            count(
                &text,
                r#"failover_webhook_request_duration_seconds_count{endpoint="mutate"}"#
            ),
            Some(120)
        );
    }
}
