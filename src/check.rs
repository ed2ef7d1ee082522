//! `failover-webhook check`: the admission defaults and rules over manifest files, for CI and
//! GitOps gating. Exit status: 0 nothing denies, 1 some object would be denied (or looks like a
//! FailoverService the webhook would never judge), 2 usage or input error, or no FailoverService
//! found at all without `--allow-empty`. The report's formats live in [`output`].

mod error;
pub mod output;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

use crate::api::{Kind, ObjectRef};
use crate::cli::CheckArgs;
use crate::engine::{self, Change, Effect, Review, Settings};
use crate::finding::{FieldPath, RuleCode};
use crate::identity::Identity;
use crate::manifest::{self, Document};
use crate::topology::{Topology, TopologyBuilder, snapshot};

pub(crate) use error::CheckError;

/// What a reported finding is about: one of the webhook's rules, or an object `check` cannot
/// judge because the webhook never would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportCode {
    Rule(RuleCode),
    /// The object's kind or group is close to, but not, `networking.smh.solo.io`
    /// `FailoverService` (`kind: failoverservice`, Gloo Mesh's `networking.mesh.gloo.solo.io`):
    /// the API server never sends it to this webhook, so it is never validated.
    NotAFailoverService,
}

impl ReportCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportCode::Rule(code) => code.as_str(),
            ReportCode::NotAFailoverService => "NotAFailoverService",
        }
    }
}

impl fmt::Display for ReportCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ReportCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One finding on one object, as `--output json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reported {
    pub file: String,
    pub namespace: String,
    pub name: String,
    pub code: ReportCode,
    pub field: String,
    pub message: String,
    pub deny: bool,
    /// `deny`, `warn`, or `skipped` (named in the object's skip-rules annotation).
    pub effect: Effect,
    /// Line of the field's key in `file` (of its parent's when the field is missing); null
    /// only for documents read without positions.
    pub line: Option<usize>,
    /// Column of that key, in characters.
    pub column: Option<usize>,
}

/// One FailoverService that was checked, with its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub file: String,
    pub namespace: String,
    pub name: String,
    /// Where the object starts in `file`.
    pub line: Option<usize>,
    pub denied: bool,
}

/// An entry of an object's skip-rules annotation that is not honoured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnotationProblem {
    pub file: String,
    /// `namespace/name`.
    pub object: String,
    pub message: String,
}

/// What a check found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub findings: Vec<Reported>,
    /// How many FailoverServices were checked.
    pub objects: usize,
    /// How many of them would be denied.
    pub denied: usize,
    /// Objects reported as [`ReportCode::NotAFailoverService`].
    pub not_judged: usize,
    /// Every FailoverService checked, in input order.
    pub checked: Vec<Checked>,
    pub annotation_problems: Vec<AnnotationProblem>,
}

fn is_failover_service(doc: &Document) -> bool {
    let (api_version, kind) = doc.type_meta();
    Kind::from_type_meta(api_version, kind) == Some(Kind::FailoverService)
}

/// Why `doc` looks meant as a FailoverService but is not one the webhook judges: its kind is
/// `FailoverService` up to case or a typo of two letters, and the kind or the group is not
/// exactly ours. `None` for a FailoverService, and for unrelated kinds.
fn near_miss(doc: &Document) -> Option<(&'static str, String)> {
    const KIND: &str = "FailoverService";
    let (api_version, kind) = doc.type_meta();
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    let close = strsim::levenshtein(&kind.to_ascii_lowercase(), &KIND.to_ascii_lowercase()) <= 2;
    if !close || is_failover_service(doc) {
        return None;
    }
    let wanted = Kind::FailoverService.group();
    Some(if kind != KIND {
        (
            "kind",
            format!(
                "kind {kind:?} is not {KIND:?} (kinds are case-sensitive): the webhook never \
                 judges this object"
            ),
        )
    } else {
        (
            "apiVersion",
            format!(
                "group {group:?} is not {wanted:?}: the webhook only judges {KIND} of \
                 {wanted}, never this object"
            ),
        )
    })
}

/// The namespace and name to show for an object: a `generateName` manifest has no name yet and
/// is shown as its prefix marked `prefix*` (see [`Identity::pending_prefix`] for why denials
/// show it bare).
fn display_identity(value: &Value) -> ObjectRef {
    let identity = Identity::of(value);
    ObjectRef {
        namespace: identity.namespace.to_owned(),
        name: match identity.pending_prefix() {
            Some(prefix) => format!("{prefix}*"),
            None => identity.name.to_owned(),
        },
    }
}

/// The identity a manifest is indexed and judged under. A `generateName` manifest has no name
/// yet, and two of them in one namespace must not collapse into one index entry, nor must one
/// conflict with itself: it gets the name `prefix*N` (N its position among the checked objects),
/// which no real object can have since `*` is outside DNS names.
fn checked_identity(value: &Value, n: usize) -> ObjectRef {
    let identity = Identity::of(value);
    let mut this = identity.object_ref();
    if !identity.is_named() {
        let prefix = identity.pending_prefix().unwrap_or_default();
        this.name = format!("{prefix}*{n}");
    }
    this
}

/// `value` as indexed under `this`: unchanged unless the manifest had no name.
fn named<'a>(value: &'a Value, this: &ObjectRef) -> std::borrow::Cow<'a, Value> {
    if Identity::of(value).is_named() {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert("name".into(), Value::String(this.name.clone()));
        }
    }
    std::borrow::Cow::Owned(value)
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
    let identities: Vec<ObjectRef> = (1..)
        .zip(&objects)
        .map(|(n, doc)| checked_identity(&doc.value, n))
        .collect();
    let topology: Option<Topology> = topology.map(|mut builder| {
        for (doc, this) in objects.iter().zip(&identities) {
            // Lenient by design for FailoverServices: this cannot fail.
            let _ = builder.insert(Kind::FailoverService, &named(&doc.value, this));
        }
        builder.build()
    });

    let mut report = Report::default();
    for doc in docs {
        if let Some((field, message)) = near_miss(doc) {
            let shown = display_identity(&doc.value);
            report.not_judged += 1;
            let at = doc.positions.of(&FieldPath::from(field));
            report.findings.push(Reported {
                file: doc.location.file.clone(),
                namespace: shown.namespace,
                name: shown.name,
                code: ReportCode::NotAFailoverService,
                field: field.to_owned(),
                message,
                deny: true,
                effect: Effect::Deny,
                line: at.map(|p| p.line),
                column: at.map(|p| p.column),
            });
        }
    }
    for (doc, this) in objects.into_iter().zip(&identities) {
        let eval = engine::evaluate(
            &Review::new(Change::Create, &doc.value, this),
            topology.as_ref(),
            settings,
        );
        let shown = display_identity(&doc.value);
        report.objects += 1;
        if !eval.allowed() {
            report.denied += 1;
        }
        report.checked.push(Checked {
            file: doc.location.file.clone(),
            namespace: shown.namespace.clone(),
            name: shown.name.clone(),
            line: doc.positions.of(&FieldPath::root()).map(|p| p.line),
            denied: !eval.allowed(),
        });
        report
            .annotation_problems
            .extend(
                eval.skip
                    .problems()
                    .into_iter()
                    .map(|message| AnnotationProblem {
                        file: doc.location.file.clone(),
                        object: if shown.namespace.is_empty() {
                            shown.name.clone()
                        } else {
                            format!("{}/{}", shown.namespace, shown.name)
                        },
                        message,
                    }),
            );
        report.findings.extend(eval.findings.into_iter().map(|j| {
            let at = doc.positions.of(&j.finding.field);
            Reported {
                file: doc.location.file.clone(),
                namespace: shown.namespace.clone(),
                name: shown.name.clone(),
                code: ReportCode::Rule(j.finding.code),
                field: j.finding.field.to_string(),
                deny: j.deny(),
                effect: j.effect,
                message: j.finding.message,
                line: at.map(|p| p.line),
                column: at.map(|p| p.column),
            }
        }));
    }
    report
}

pub fn run(args: &CheckArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        // The message already ends with its sources' text: the chain is not printed again.
        Err(e) => {
            let _ = writeln!(io::stderr(), "failover-webhook: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Lists the topology once from the current cluster context.
fn list_from_cluster() -> Result<Topology, CheckError> {
    crate::serve::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CheckError::Runtime)?;
    runtime.block_on(async {
        let client = crate::serve::kube_client().await?;
        crate::topology::watch::list_once(client)
            .await
            .map_err(CheckError::List)
    })
}

fn run_inner(args: &CheckArgs) -> Result<ExitCode, CheckError> {
    let read = manifest::read_tree_with_positions(&args.paths)?;
    let docs = read.documents;
    let topology = if args.kube {
        Some(TopologyBuilder::from(list_from_cluster()?))
    } else if args.topology.snapshot.is_empty() {
        None
    } else {
        Some(snapshot::load_builder(&args.topology.snapshot)?)
    };
    let skipped_topology_rules = topology.is_none();
    let report = check_documents(&docs, topology, &args.rules.settings());

    let mut out = io::stdout().lock();
    let written = output::write(args.output, &report, &mut out).and_then(|()| out.flush());
    // A closed pipe (`check … | head`) is the reader's choice, not an error of ours.
    if let Err(e) = written
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Err(CheckError::Write(e));
    }

    let mut err = io::stderr().lock();
    for file in &read.skipped {
        let _ = writeln!(
            err,
            "note: skipped {}: only .yaml, .yml and .json files are read from folders",
            file.display()
        );
    }
    for p in &report.annotation_problems {
        let _ = writeln!(err, "warning: {}: {}: {}", p.file, p.object, p.message);
    }
    if skipped_topology_rules {
        let _ = writeln!(
            err,
            "note: no --snapshot or --kube given: reference and conflict rules were skipped"
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
    if report.not_judged > 0 {
        let _ = writeln!(
            err,
            "{} object(s) look like FailoverServices but are not networking.smh.solo.io \
             FailoverServices: the webhook never judges them",
            report.not_judged
        );
    }
    if report.objects == 0 && !args.allow_empty {
        return Err(CheckError::NothingChecked);
    }
    Ok(if report.denied > 0 || report.not_judged > 0 {
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
        manifest::parse_with_positions("m.yaml", text).unwrap()
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

    fn check_args(args: &[&str]) -> CheckArgs {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["failover-webhook", "check"].iter().chain(args))
            .unwrap();
        match cli.command {
            crate::cli::Command::Check(c) => c,
            other => panic!("not check: {other:?}"),
        }
    }

    #[test]
    fn input_errors_stop_the_check_with_their_typed_cause() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yaml");
        let missing = missing.to_str().unwrap();
        let e = run_inner(&check_args(&[missing])).unwrap_err();
        assert!(
            matches!(
                e,
                CheckError::Manifests(manifest::ManifestError::Read { .. })
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("{missing}: No such file or directory (os error 2)")
        );
        assert!(std::error::Error::source(&e).is_some());

        let e = run_inner(&check_args(&["--snapshot", missing, "examples/valid"])).unwrap_err();
        assert!(matches!(e, CheckError::Snapshot(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("{missing}: No such file or directory (os error 2)")
        );
        assert!(std::error::Error::source(&e).is_some());
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
                .all(|r| r.code == ReportCode::Rule(RuleCode::HostnameConflict))
        );
        assert!(
            embedded()
                .hostname_owners("checkout.shop.failover")
                .is_empty()
        );
    }

    #[test]
    fn near_miss_kinds_and_groups_are_reported_as_never_judged() {
        let doc = |api_version: &str, kind: &str| {
            format!(
                "apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: f, namespace: n}}\nspec: {{}}\n"
            )
        };
        let text = [
            doc("networking.smh.solo.io/v1alpha1", "failoverservice"),
            doc("networking.smh.solo.io/v1alpha1", "FailoverServices"),
            doc("networking.mesh.gloo.solo.io/v1", "FailoverService"),
            doc("v1", "ConfigMap"),
            doc("networking.smh.solo.io/v1alpha1", "VirtualMesh"),
        ]
        .join("---\n");
        let report = check_documents(&docs(&text), None, &Settings::default());
        assert_eq!((report.objects, report.not_judged), (0, 3));
        let fields: Vec<(&str, ReportCode, bool)> = report
            .findings
            .iter()
            .map(|r| (r.field.as_str(), r.code, r.deny))
            .collect();
        use ReportCode::NotAFailoverService as N;
        assert_eq!(
            fields,
            [
                ("kind", N, true),
                ("kind", N, true),
                ("apiVersion", N, true)
            ]
        );
        assert_eq!(
            output::text_line(&report.findings[2]),
            "m.yaml:11:1: error: n/f: apiVersion: group \"networking.mesh.gloo.solo.io\" is not \
             \"networking.smh.solo.io\": the webhook only judges FailoverService of \
             networking.smh.solo.io, never this object (NotAFailoverService)"
        );
        assert_eq!(
            (report.findings[0].line, report.findings[0].column),
            (Some(2), Some(1))
        );
    }

    #[test]
    fn a_skipped_conflict_does_not_count_as_denied_and_says_why() {
        let text = two_with_one_hostname().replacen(
            "metadata: {name: a, namespace: shop}",
            "metadata: {name: a, namespace: shop, annotations: \
             {failover-webhook.smh.solo.io/skip-rules: 'HostnameConflict,Typo'}}",
            1,
        );
        let report = check_documents(&docs(&text), Some(embedded_builder()), &Settings::default());
        assert_eq!(report.denied, 1, "only the object without the annotation");
        let skipped = &report.findings[0];
        assert_eq!(
            (skipped.name.as_str(), skipped.effect),
            ("a", Effect::Skipped)
        );
        assert!(!skipped.deny);
        assert!(
            output::text_line(skipped).contains(
                ": warning: skipped by failover-webhook.smh.solo.io/skip-rules: shop/a: spec.hostname: "
            ),
            "{}",
            output::text_line(skipped)
        );
        assert_eq!(
            report.annotation_problems,
            [AnnotationProblem {
                file: "m.yaml".into(),
                object: "shop/a".into(),
                message:
                    "failover-webhook.smh.solo.io/skip-rules: unknown rule code \"Typo\" ignored"
                        .into(),
            }]
        );
    }

    #[test]
    fn findings_carry_the_position_of_their_field() {
        let report = check_documents(
            &docs(
                "apiVersion: networking.smh.solo.io/v1alpha1\nkind: FailoverService\nmetadata: {generateName: f-}\nspec:\n  hostname: a.b\n  port: {port: 70000, name: http}\n",
            ),
            None,
            &Settings::default(),
        );
        let at = |code: RuleCode| {
            let r = report
                .findings
                .iter()
                .find(|r| r.code == ReportCode::Rule(code))
                .unwrap();
            (r.line, r.column)
        };
        assert_eq!(at(RuleCode::PortNumberInvalid), (Some(6), Some(10)));
        // Missing fields point at their parent.
        assert_eq!(at(RuleCode::ClusterRequired), (Some(4), Some(1)));
        assert_eq!(report.checked[0].name, "f-*");
        assert_eq!(report.checked[0].line, Some(1));
    }
}
