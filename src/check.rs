//! `failover-webhook check`: the admission defaults and rules over manifest files, for CI and
//! GitOps gating. Exit status: 0 nothing denies, 1 some object would be denied, 2 usage or input
//! error.

use std::io::{self, Write};
use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

use crate::api::{Kind, ObjectRef};
use crate::cli::{CheckArgs, OutputFormat};
use crate::engine::{self, Change, Review, Settings};
use crate::finding::RuleCode;
use crate::manifest::{self, Document};
use crate::topology::{Topology, TopologyBuilder, snapshot};

/// One finding on one object, as `--output json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reported {
    pub file: String,
    pub namespace: String,
    pub name: String,
    pub code: RuleCode,
    pub field: String,
    pub message: String,
    pub deny: bool,
}

/// What a check found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub findings: Vec<Reported>,
    /// How many FailoverServices were checked.
    pub objects: usize,
    /// How many of them would be denied.
    pub denied: usize,
}

fn is_failover_service(doc: &Document) -> bool {
    let (api_version, kind) = doc.type_meta();
    Kind::from_type_meta(api_version, kind) == Some(Kind::FailoverService)
}

/// The name to show for an object; a `generateName` prefix when it has no name yet.
fn display_identity(value: &Value) -> ObjectRef {
    let mut this = Review::identity_of(value);
    if this.name.is_empty()
        && let Some(prefix) = value
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
    {
        this.name = format!("{prefix}*");
    }
    this
}

/// Checks every FailoverService in `docs`. Other kinds are skipped.
///
/// With a topology, the FailoverServices being checked are added to it before any is judged:
/// a GitOps sync applies them together, so two manifests claiming one hostname conflict.
pub fn check_documents(
    docs: &[Document],
    topology: Option<TopologyBuilder>,
    settings: &Settings,
) -> Report {
    let objects: Vec<&Document> = docs.iter().filter(|d| is_failover_service(d)).collect();
    let topology: Option<Topology> = topology.map(|mut builder| {
        for doc in &objects {
            // Lenient by design for FailoverServices: this cannot fail.
            let _ = builder.insert(Kind::FailoverService, &doc.value);
        }
        builder.build()
    });

    let mut report = Report::default();
    for doc in objects {
        let this = Review::identity_of(&doc.value);
        let eval = engine::evaluate(
            &Review {
                change: Change::Create,
                object: &doc.value,
                this: &this,
            },
            topology.as_ref(),
            settings,
        );
        let shown = display_identity(&doc.value);
        report.objects += 1;
        if !eval.allowed() {
            report.denied += 1;
        }
        report
            .findings
            .extend(eval.findings.into_iter().map(|j| Reported {
                file: doc.location.file.clone(),
                namespace: shown.namespace.clone(),
                name: shown.name.clone(),
                code: j.finding.code,
                field: j.finding.field.to_string(),
                message: j.finding.message,
                deny: j.deny,
            }));
    }
    report
}

/// One finding as a text line: `FILE: namespace/name: field: message (Code)`.
pub fn text_line(r: &Reported) -> String {
    let object = if r.namespace.is_empty() {
        r.name.clone()
    } else {
        format!("{}/{}", r.namespace, r.name)
    };
    let verdict = if r.deny { "" } else { ", warning" };
    format!(
        "{}: {object}: {}: {} ({}{verdict})",
        r.file, r.field, r.message, r.code
    )
}

pub fn run(args: &CheckArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(io::stderr(), "failover-webhook: error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &CheckArgs) -> Result<ExitCode, String> {
    let docs = manifest::read_paths(&args.paths).map_err(|e| e.to_string())?;
    let topology = if args.topology.snapshot.is_empty() {
        None
    } else {
        let docs = manifest::read_paths(&args.topology.snapshot).map_err(|e| e.to_string())?;
        Some(snapshot::builder_from_documents(docs).map_err(|e| e.to_string())?)
    };
    let skipped_topology_rules = topology.is_none();
    let report = check_documents(&docs, topology, &args.rules.settings());

    let mut out = io::stdout().lock();
    let written = match args.output {
        OutputFormat::Json => serde_json::to_writer_pretty(&mut out, &report.findings)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        OutputFormat::Text => report
            .findings
            .iter()
            .try_for_each(|r| writeln!(out, "{}", text_line(r))),
    };
    // A closed pipe (`check … | head`) is the reader's choice, not an error of ours.
    if let Err(e) = written
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Err(format!("writing the report: {e}"));
    }

    let mut err = io::stderr().lock();
    if skipped_topology_rules {
        let _ = writeln!(
            err,
            "note: no --snapshot given: reference and conflict rules were skipped"
        );
    }
    let warnings = report.findings.iter().filter(|r| !r.deny).count();
    let _ = writeln!(
        err,
        "checked {} FailoverService(s): {} denied, {} finding(s), {} warning(s)",
        report.objects,
        report.denied,
        report.findings.len(),
        warnings
    );
    Ok(if report.denied > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::embedded;

    fn docs(text: &str) -> Vec<Document> {
        manifest::parse("m.yaml", text).unwrap()
    }

    /// Two FailoverServices claiming one hostname, with another kind between them.
    fn two_with_one_hostname() -> String {
        let fsvc = |name: &str| {
            format!(
                "apiVersion: networking.smh.solo.io/v1alpha1
kind: FailoverService
metadata: {{name: {name}, namespace: shop}}
spec:
  hostname: checkout.shop.failover
  port: {{port: 9080, name: http}}
  cluster: mgmt-cluster
  failoverServices: [{{name: checkout, cluster: mgmt-cluster}}, {{name: checkout, cluster: remote-cluster}}]
"
            )
        };
        format!(
            "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: ignored}}\n---\n{}",
            fsvc("a"),
            fsvc("b")
        )
    }

    fn embedded_builder() -> TopologyBuilder {
        snapshot::builder_from_documents(
            manifest::parse("embedded", crate::topology::EMBEDDED_YAML).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn without_a_topology_only_spec_rules_run() {
        let report = check_documents(&docs(&two_with_one_hostname()), None, &Settings::default());
        assert_eq!(report.objects, 2);
        assert_eq!(report.denied, 0);
        assert!(report.findings.is_empty());
    }

    #[test]
    fn manifests_checked_together_conflict_on_a_shared_hostname() {
        let report = check_documents(
            &docs(&two_with_one_hostname()),
            Some(embedded_builder()),
            &Settings::default(),
        );
        assert_eq!(report.denied, 2);
        assert!(
            report
                .findings
                .iter()
                .all(|r| r.code == RuleCode::HostnameConflict)
        );
        assert!(
            embedded()
                .hostname_owners("checkout.shop.failover")
                .is_empty()
        );
    }

    #[test]
    fn text_lines_name_file_object_field_and_code() {
        let report = check_documents(
            &docs(
                "apiVersion: networking.smh.solo.io/v1alpha1\nkind: FailoverService\nmetadata: {generateName: f-}\nspec: {}\n",
            ),
            None,
            &Settings::default(),
        );
        let first = text_line(&report.findings[0]);
        assert_eq!(
            first,
            "m.yaml: f-*: spec.cluster: Required value: the registered cluster where the failover service resides (ClusterRequired)"
        );
    }
}
