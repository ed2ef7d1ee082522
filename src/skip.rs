//! The per-object exemption: the annotation `failover-webhook.smh.solo.io/skip-rules:
//! CODE[,CODE]` lets an object's owner accept the findings of named rules, so one known
//! exception (a hostname shared during a migration, a mesh that is not Istio yet) does not hold
//! up enforcing everything else. A skipped finding never denies but is still reported, as a
//! warning naming the annotation; a code that cannot be honoured is itself reported.
//!
//! Only reference and conflict rules can be skipped. Their findings depend on the state of the
//! cluster, which the object's owner may know better than the webhook's snapshot of it. A spec
//! finding means the object itself is broken (Service Mesh Hub cannot translate it), so it
//! cannot be skipped: exempting an object from those is the operator's decision, through the
//! webhook's `namespaceSelector`/`objectSelector` or `--enforcement spec=warn`.

use std::fmt;

use serde_json::Value;

use crate::decode;
use crate::finding::{RuleClass, RuleCode};

/// The annotation's key.
pub const ANNOTATION: &str = "failover-webhook.smh.solo.io/skip-rules";

/// Most problems reported for one annotation; the value may be up to the API server's 256 KiB
/// annotation limit, and a handful of warnings says what is wrong as well as thousands.
const MAX_PROBLEMS: usize = 5;

/// Longest part of an unknown code quoted back in a warning.
const MAX_QUOTED: usize = 40;

/// The annotation's value on `object`, if any.
pub fn annotation(object: &Value) -> Option<&str> {
    object
        .get("metadata")?
        .get("annotations")?
        .get(ANNOTATION)?
        .as_str()
}

/// Why one entry of the annotation is not honoured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Not the name of a rule (codes are case-sensitive, as everywhere they are shown).
    Unknown {
        given: String,
        suggestion: Option<RuleCode>,
    },
    /// A spec rule: it judges the object alone and cannot be skipped.
    NotSkippable(RuleCode),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unknown { given, suggestion } => {
                let quoted: String = given.chars().take(MAX_QUOTED).collect();
                write!(f, "{ANNOTATION}: unknown rule code {quoted:?} ignored")?;
                match suggestion {
                    Some(code) => write!(f, " (did you mean {code}?)"),
                    None => Ok(()),
                }
            }
            Problem::NotSkippable(code) => write!(
                f,
                "{ANNOTATION}: {code} is a spec rule and cannot be skipped; fix the object"
            ),
        }
    }
}

/// The annotation, read: the rules it skips and what in it cannot be honoured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkipRules {
    codes: Vec<RuleCode>,
    problems: Vec<Problem>,
    /// Problems beyond [`MAX_PROBLEMS`], counted only.
    more_problems: usize,
}

impl SkipRules {
    /// Reads `CODE[,CODE]`: spaces around codes and empty entries are ignored, a code named
    /// twice counts once.
    pub fn parse(value: &str) -> SkipRules {
        let mut skip = SkipRules::default();
        let mut seen: Vec<&str> = Vec::new();
        for given in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if seen.contains(&given) {
                continue;
            }
            seen.push(given);
            let problem = match RuleCode::ALL.iter().find(|c| c.as_str() == given) {
                Some(&code) if code.class() != RuleClass::Spec => {
                    skip.codes.push(code);
                    continue;
                }
                Some(&code) => Problem::NotSkippable(code),
                None if skip.problems.len() >= MAX_PROBLEMS => {
                    skip.more_problems += 1;
                    continue;
                }
                None => Problem::Unknown {
                    given: given.to_owned(),
                    suggestion: decode::suggest(given, RuleCode::ALL.iter().map(|c| c.as_str()))
                        .and_then(|s| RuleCode::ALL.iter().copied().find(|c| c.as_str() == s)),
                },
            };
            if skip.problems.len() < MAX_PROBLEMS {
                skip.problems.push(problem);
            } else {
                skip.more_problems += 1;
            }
        }
        skip
    }

    /// The annotation of `object`, read; empty when there is none.
    pub fn of(object: &Value) -> SkipRules {
        annotation(object).map(SkipRules::parse).unwrap_or_default()
    }

    /// Whether findings of `code` are skipped.
    pub fn skips(&self, code: RuleCode) -> bool {
        self.codes.contains(&code)
    }

    /// The codes skipped, in the order given.
    pub fn codes(&self) -> &[RuleCode] {
        &self.codes
    }

    /// The entries that are not honoured, one message each, ready to show to the user; the
    /// last one counts any left out.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        if self.more_problems > 0 {
            out.push(format!(
                "{ANNOTATION}: {} more entries are not rule codes that can be skipped",
                self.more_problems
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_and_conflict_codes_are_skipped() {
        let skip = SkipRules::parse("HostnameConflict, OutlierDetectionMissing,,");
        assert!(skip.skips(RuleCode::HostnameConflict));
        assert!(skip.skips(RuleCode::OutlierDetectionMissing));
        assert!(!skip.skips(RuleCode::MeshNotIstio));
        assert!(skip.problems().is_empty());
    }

    #[test]
    fn spec_codes_are_refused_with_a_reason() {
        let skip = SkipRules::parse("PortNumberInvalid,MeshNotIstio");
        assert!(!skip.skips(RuleCode::PortNumberInvalid));
        assert!(skip.skips(RuleCode::MeshNotIstio));
        assert_eq!(
            skip.problems(),
            [
                "failover-webhook.smh.solo.io/skip-rules: PortNumberInvalid is a spec rule and cannot be skipped; fix the object"
            ]
        );
    }

    #[test]
    fn unknown_codes_are_named_with_the_nearest_code() {
        let skip = SkipRules::parse("hostnameconflict,NoSuchRule");
        assert_eq!(skip.codes(), &[] as &[RuleCode]);
        assert_eq!(
            skip.problems(),
            [
                "failover-webhook.smh.solo.io/skip-rules: unknown rule code \"hostnameconflict\" ignored (did you mean HostnameConflict?)",
                "failover-webhook.smh.solo.io/skip-rules: unknown rule code \"NoSuchRule\" ignored",
            ]
        );
    }

    #[test]
    fn a_huge_value_gives_a_few_problems_and_a_count() {
        let value: Vec<String> = (0..1000).map(|i| format!("X{i}")).collect();
        let problems = SkipRules::parse(&value.join(",")).problems();
        assert_eq!(problems.len(), MAX_PROBLEMS + 1);
        assert!(
            problems
                .last()
                .unwrap()
                .ends_with(": 995 more entries are not rule codes that can be skipped"),
            "{problems:?}"
        );
    }

    #[test]
    fn repeated_codes_count_once() {
        let skip = SkipRules::parse("HostnameConflict,HostnameConflict,Nope,Nope");
        assert_eq!(skip.codes(), &[RuleCode::HostnameConflict]);
        assert_eq!(skip.problems().len(), 1);
    }

    #[test]
    fn the_annotation_is_read_from_the_object_metadata() {
        let object = json!({"metadata": {"annotations": {ANNOTATION: "MixedVirtualMeshes"}}});
        assert_eq!(annotation(&object), Some("MixedVirtualMeshes"));
        assert!(SkipRules::of(&object).skips(RuleCode::MixedVirtualMeshes));
        assert_eq!(
            SkipRules::of(&json!({"metadata": {}})),
            SkipRules::default()
        );
        assert_eq!(annotation(&json!("text")), None);
    }
}
