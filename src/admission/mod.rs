//! AdmissionReview in, AdmissionReview out: the translation between the API server's admission
//! protocol and the [`engine`](crate::engine). No sockets, clocks or files, so every case of the
//! contract is testable without a server.
//!
//! - `/mutate` fills defaults and the initial status and never denies: refusing is
//!   `/validate`'s job, and `/validate` sees the object after mutation.
//! - `/validate` never patches (the API server rejects a validating response that carries a
//!   patch) and denies with a 422 `Invalid` status shaped like the API server's own validation
//!   errors. Findings that do not deny become warnings; `/mutate` sends none, because the same
//!   findings reach the user from `/validate`, judged on the final object.
//! - DELETE and CONNECT, other kinds and subresources (the controller's `/status` writes) are
//!   allowed untouched: the webhook only judges what it owns, and must never block the
//!   controller.

mod envelope;
mod request;
mod response;
mod spec;
pub mod warnings;

use serde_json::Value;

pub use request::{AdmissionRequest, Operation, ReviewError, ReviewVersion};
pub use response::{AdmissionResponse, DenialStatus};

use crate::engine::{Change, Effect, ReadSpecs, Review, Settings, evaluate_read};
use crate::finding::RuleCode;
use crate::topology::Topology;

/// The two webhooks this server implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Validate,
    Mutate,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        }
    }
}

/// What an evaluation depends on besides the request.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub topology: &'a Topology,
    pub settings: &'a Settings,
}

/// Why a request was answered without being judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not a `networking.smh.solo.io` FailoverService.
    OtherKind,
    /// A subresource such as `status`, written by the controller.
    SubResource,
    /// DELETE, CONNECT, or an operation the API server does not send.
    Operation,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::OtherKind => "other kind",
            Skip::SubResource => "subresource",
            Skip::Operation => "operation not judged",
        }
    }
}

/// The outcome of one review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied,
    Skipped(Skip),
}

impl Verdict {
    /// The label used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Denied => "denied",
            Verdict::Skipped(_) => "skipped",
        }
    }
}

/// What the server logs and counts about a review; never the object itself.
#[derive(Clone, Debug)]
pub struct Summary {
    pub uid: String,
    pub version: ReviewVersion,
    pub operation: Operation,
    pub group: String,
    pub kind: String,
    pub namespace: String,
    /// The name as shown to users (the `generateName` prefix before a name exists).
    pub name: String,
    pub dry_run: bool,
    pub verdict: Verdict,
    pub patched: bool,
    /// Every finding's rule and what it did.
    pub findings: Vec<(RuleCode, Effect)>,
}

impl Summary {
    /// The codes of the findings that would deny with every class enforced.
    pub fn would_deny(&self) -> impl Iterator<Item = RuleCode> + '_ {
        self.findings
            .iter()
            .filter(|(_, effect)| effect.would_deny())
            .map(|&(code, _)| code)
    }
}

/// A finished review: the AdmissionReview to send back, and its summary.
#[derive(Debug)]
pub struct Answer {
    pub body: Vec<u8>,
    pub summary: Summary,
}

/// Answers a raw AdmissionReview body. Only what is read is built (see `envelope`): the
/// object's metadata is reduced to the fields the engine reads while the body is parsed, and
/// the objects' specs are read into what the engine reads (see `spec`). The few reviews the
/// engine cannot judge from specs read that way (see [`ReadSpecs::for_change`]) are parsed
/// again with the specs as `Value`s.
pub fn review(body: &[u8], endpoint: Endpoint, ctx: Context<'_>) -> Result<Answer, ReviewError> {
    // A body that is not UTF-8 is refused whatever it holds; reading it as a `Value` reports
    // where it breaks, as a full parse does.
    let Ok(text) = std::str::from_utf8(body) else {
        return review_as_value(body, endpoint, ctx);
    };
    let mut envelope = match envelope::parse(text, envelope::Specs::Apart) {
        Err(e) if envelope::wants_value(&e) => return review_as_value(body, endpoint, ctx),
        parsed => parsed?,
    };
    match answer(
        AdmissionRequest::from_envelope(&mut envelope)?,
        endpoint,
        ctx,
    )? {
        Judged::Answer(answer) => Ok(answer),
        Judged::NeedsValues => {
            let mut envelope = envelope::parse(text, envelope::Specs::InObject)?;
            answer_with_values(
                AdmissionRequest::from_envelope(&mut envelope)?,
                endpoint,
                ctx,
            )
        }
    }
}

/// [`review`] for the bodies its reader leaves to a `Value`.
fn review_as_value(
    body: &[u8],
    endpoint: Endpoint,
    ctx: Context<'_>,
) -> Result<Answer, ReviewError> {
    review_value(&serde_json::from_slice::<Value>(body)?, endpoint, ctx)
}

/// Answers an AdmissionReview already parsed as a `Value`: the same answer as [`review`] gives
/// for the body the value was parsed from (the tests hold the two to that).
pub fn review_value(
    review: &Value,
    endpoint: Endpoint,
    ctx: Context<'_>,
) -> Result<Answer, ReviewError> {
    answer_with_values(AdmissionRequest::read(review)?, endpoint, ctx)
}

/// Decodes an object's JSON text as [`review`] reads a review's object (its spec read apart,
/// without a `Value`), for the tests that hold it to [`crate::decode::decode`] of the same text
/// parsed into a `Value`: the same findings in the same order, malformed paths and typed spec.
#[doc(hidden)]
pub fn decode_object_text(text: &str) -> Result<crate::decode::Decoded, serde_json::Error> {
    let (object, spec) = match envelope::parse_object(text) {
        Err(e) if envelope::wants_value(&e) => {
            return Ok(crate::decode::decode(&serde_json::from_str(text)?));
        }
        parsed => parsed?,
    };
    Ok(match (object.as_object(), spec) {
        (Some(map), Some(spec)) => {
            let mut decoded = crate::decode::decode_apart(map, &spec.found);
            decoded.spec = spec.spec.into_typed();
            decoded
        }
        _ => crate::decode::decode(&object),
    })
}

/// An answer, or the word that the specs read apart are not enough for this review.
enum Judged {
    Answer(Answer),
    NeedsValues,
}

/// Answers a request whose objects hold their specs.
fn answer_with_values(
    req: AdmissionRequest<'_>,
    endpoint: Endpoint,
    ctx: Context<'_>,
) -> Result<Answer, ReviewError> {
    let req = AdmissionRequest {
        object_spec: None,
        old_spec: None,
        ..req
    };
    match answer(req, endpoint, ctx)? {
        Judged::Answer(answer) => Ok(answer),
        // Without specs read apart the objects are judged as they are.
        Judged::NeedsValues => Err(ReviewError::NoRequest),
    }
}

fn answer(
    req: AdmissionRequest<'_>,
    endpoint: Endpoint,
    ctx: Context<'_>,
) -> Result<Judged, ReviewError> {
    let identity = req.identity();
    let mut summary = Summary {
        uid: req.uid.to_owned(),
        version: req.version,
        operation: req.operation,
        group: req.group.to_owned(),
        kind: req.kind.to_owned(),
        namespace: identity.namespace.to_owned(),
        name: identity.display_name().to_owned(),
        dry_run: req.dry_run,
        verdict: Verdict::Allowed,
        patched: false,
        findings: Vec::new(),
    };

    let change = match req.operation {
        _ if !req.is_failover_service() => Err(Skip::OtherKind),
        _ if !req.sub_resource.is_empty() => Err(Skip::SubResource),
        Operation::Create => Ok(Change::Create),
        Operation::Update => Ok(Change::Update {
            old: req.old_object,
        }),
        Operation::Delete | Operation::Connect | Operation::Other => Err(Skip::Operation),
    };
    let change = match change {
        Ok(change) => change,
        Err(skip) => {
            summary.verdict = Verdict::Skipped(skip);
            let body = AdmissionResponse::allow(req.uid).into_review(req.version);
            return Ok(Judged::Answer(Answer { body, summary }));
        }
    };

    // With the specs read apart, the objects hold none: either the read specs are enough,
    // or the review needs its objects whole. A review read whole has no read specs.
    let read = match req.object_spec {
        Some(spec) => match ReadSpecs::for_change(change, spec, req.old_spec) {
            Some(read) => Some(read),
            None => return Ok(Judged::NeedsValues),
        },
        None if req.old_spec.is_some() && matches!(change, Change::Update { .. }) => {
            return Ok(Judged::NeedsValues);
        }
        None => None,
    };
    let this = identity.object_ref();
    let eval = evaluate_read(
        &Review::new(change, req.object, &this),
        read,
        Some(ctx.topology),
        ctx.settings,
    );
    summary.findings = eval
        .findings
        .iter()
        .map(|j| (j.finding.code, j.effect))
        .collect();

    let response = match endpoint {
        Endpoint::Mutate => AdmissionResponse::allow(req.uid).with_patch(&eval.patch),
        Endpoint::Validate => {
            let allow =
                AdmissionResponse::allow(req.uid).with_warnings(warnings::for_evaluation(&eval));
            if eval.allowed() {
                allow
            } else {
                allow.deny(DenialStatus::invalid(
                    identity.display_name(),
                    eval.denials(),
                ))
            }
        }
    };
    summary.verdict = if response.allowed() {
        Verdict::Allowed
    } else {
        Verdict::Denied
    };
    summary.patched = response.has_patch();
    Ok(Judged::Answer(Answer {
        body: response.into_review(req.version),
        summary,
    }))
}
