//! The verdict of every manifest in `examples/` against the embedded topology, in one table,
//! and the README's rule table checked against the code.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use failover_webhook::check::{ReportCode, check_documents};
use failover_webhook::engine::Settings;
use failover_webhook::finding::{RuleClass, RuleCode};
use failover_webhook::manifest;
use failover_webhook::topology::{EMBEDDED_YAML, snapshot};

use RuleCode::*;

/// (file under examples/, denied?, the rule codes it shows)
const EXPECTED: &[(&str, bool, &[RuleCode])] = &[
    ("valid/checkout-failover.yaml", false, &[]),
    ("valid/defaults-filled.yaml", false, &[]),
    ("valid/single-mesh.yaml", false, &[]),
    ("spec/hostname-required.yaml", true, &[HostnameRequired]),
    ("spec/hostname-invalid.yaml", true, &[HostnameInvalid]),
    ("spec/port-required.yaml", true, &[PortRequired]),
    ("spec/port-number-invalid.yaml", true, &[PortNumberInvalid]),
    ("spec/port-name-invalid.yaml", true, &[PortNameInvalid]),
    (
        "spec/port-protocol-invalid.yaml",
        true,
        &[PortProtocolInvalid],
    ),
    (
        "spec/port-number-only.yaml",
        true,
        &[PortNameInvalid, PortProtocolInvalid],
    ),
    (
        "spec/port-protocol-required.yaml",
        true,
        &[PortProtocolInvalid],
    ),
    (
        "spec/port-name-required.yaml",
        true,
        &[PortNameInvalid, PortProtocolInvalid],
    ),
    ("spec/namespace-required.yaml", true, &[NamespaceRequired]),
    ("spec/namespace-invalid.yaml", true, &[NamespaceInvalid]),
    ("spec/cluster-required.yaml", true, &[ClusterRequired]),
    ("spec/services-empty.yaml", true, &[ServicesEmpty]),
    ("spec/service-ref-invalid.yaml", true, &[ServiceRefInvalid]),
    ("spec/service-duplicate.yaml", true, &[ServiceDuplicate]),
    (
        "spec/service-duplicate-invalid-ref.yaml",
        true,
        &[ServiceRefInvalid, ServiceDuplicate, ServiceRefInvalid],
    ),
    ("spec/unknown-field.yaml", true, &[UnknownField]),
    ("spec/type-mismatch.yaml", true, &[TypeMismatch]),
    (
        "reference/cluster-not-registered.yaml",
        false,
        &[ClusterNotRegistered],
    ),
    (
        "reference/service-not-found.yaml",
        false,
        &[ServiceNotFound],
    ),
    ("reference/mesh-not-found.yaml", false, &[MeshNotFound]),
    (
        "reference/outlier-detection-missing.yaml",
        false,
        &[OutlierDetectionMissing],
    ),
    ("conflict/mesh-not-istio.yaml", true, &[MeshNotIstio]),
    (
        "conflict/mesh-not-in-virtual-mesh.yaml",
        true,
        &[MeshNotInVirtualMesh],
    ),
    (
        "conflict/mixed-virtual-meshes.yaml",
        true,
        &[MixedVirtualMeshes],
    ),
    ("conflict/hostname-conflict.yaml", true, &[HostnameConflict]),
];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn verdict(file: &str, settings: &Settings) -> (bool, Vec<RuleCode>) {
    let docs = manifest::read_paths(&[examples_dir().join(file)]).unwrap();
    let topology =
        snapshot::builder_from_documents(manifest::parse("embedded", EMBEDDED_YAML).unwrap())
            .unwrap();
    let report = check_documents(&docs, Some(topology), settings);
    assert_eq!(report.objects, 1, "{file} holds one FailoverService");
    (
        report.denied > 0,
        report
            .findings
            .iter()
            .map(|r| match r.code {
                ReportCode::Rule(code) => code,
                other => panic!("{file}: {other}"),
            })
            .collect(),
    )
}

#[test]
fn every_example_has_its_expected_verdict() {
    for (file, denied, codes) in EXPECTED {
        assert_eq!(
            verdict(file, &Settings::default()),
            (*denied, codes.to_vec()),
            "{file}"
        );
    }
}

#[test]
fn reference_examples_deny_under_strict_references() {
    let strict = Settings {
        strict_references: true,
        ..Settings::default()
    };
    for (file, _, codes) in EXPECTED {
        if codes.iter().any(|c| c.class() == RuleClass::Reference) {
            assert!(
                verdict(file, &strict).0,
                "{file} should deny with --strict-references"
            );
        }
    }
}

#[test]
fn every_example_file_is_in_the_table_and_every_rule_has_an_example() {
    let listed: BTreeSet<&str> = EXPECTED.iter().map(|(f, _, _)| *f).collect();
    let on_disk: BTreeSet<String> = walk(&examples_dir())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            p.strip_prefix(examples_dir())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let on_disk: BTreeSet<&str> = on_disk.iter().map(String::as_str).collect();
    assert_eq!(listed, on_disk);

    let shown: BTreeSet<RuleCode> = EXPECTED
        .iter()
        .flat_map(|(_, _, c)| c.iter().copied())
        .collect();
    let all: BTreeSet<RuleCode> = RuleCode::ALL.iter().copied().collect();
    assert_eq!(shown, all, "a rule without an example");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The README's rule table names every code once, with its class and an example that shows it.
#[test]
fn the_readme_rule_table_matches_the_code() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut seen = Vec::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let Some(code) = RuleCode::ALL
            .iter()
            .find(|c| cells[0].starts_with(&format!("`{}`", c.as_str())))
        else {
            continue;
        };
        let class = match code.class() {
            RuleClass::Spec => "spec",
            RuleClass::Reference => "reference",
            RuleClass::Conflict => "conflict",
        };
        assert_eq!(cells[1], class, "README class of {code}");
        let example = cells
            .last()
            .and_then(|c| c.split("](examples/").nth(1))
            .and_then(|c| c.strip_suffix(')'))
            .unwrap_or_else(|| panic!("README row of {code} links no example: {line}"));
        let (_, _, codes) = EXPECTED
            .iter()
            .find(|(f, _, _)| *f == example)
            .unwrap_or_else(|| panic!("README links {example}, which is not in the table"));
        assert!(codes.contains(code), "README links {example} for {code}");
        seen.push(*code);
    }
    seen.sort();
    assert_eq!(
        seen,
        RuleCode::ALL.to_vec(),
        "every rule code appears once in the README table"
    );
}

/// `valid/single-mesh.yaml` shows what its comment claims: several services, all in one Mesh
/// that no VirtualMesh lists, and still allowed (its verdict is in the table above).
#[test]
fn the_single_mesh_example_has_two_services_in_one_mesh_outside_any_virtual_mesh() {
    let docs = manifest::read_paths(&[examples_dir().join("valid/single-mesh.yaml")]).unwrap();
    let topology = failover_webhook::topology::embedded();
    let refs = docs[0].value["spec"]["failoverServices"]
        .as_array()
        .unwrap();
    assert!(refs.len() >= 2, "{refs:?}");
    let meshes: BTreeSet<String> = refs
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap();
            let service = topology
                .service(s("name"), s("namespace"), s("cluster"))
                .unwrap_or_else(|| panic!("{r} is not in the embedded topology"));
            let mesh = service.mesh.clone().unwrap();
            assert!(
                topology.mesh(&mesh).is_some_and(|m| m.mesh_type.is_istio()),
                "{mesh}"
            );
            assert_eq!(topology.virtual_meshes_of(&mesh), &[], "{mesh}");
            format!("{mesh}")
        })
        .collect();
    assert_eq!(meshes.len(), 1, "{meshes:?}");
}
