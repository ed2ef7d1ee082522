//! `failover-webhook check` as a CI pipeline runs it: the real binary, its output and exit status.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_failover-webhook"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn check(args: &[&str]) -> Output {
    bin().arg("check").args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SNAPSHOT: &str = "src/topology/embedded.yaml";

#[test]
fn valid_manifests_exit_zero() {
    let o = check(&["--snapshot", SNAPSHOT, "examples/valid"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("checked 3 FailoverService(s): 0 denied"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_denied_manifest_exits_one_with_a_pathed_line() {
    let o = check(&["examples/spec/port-number-invalid.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "examples/spec/port-number-invalid.yaml:11:5: error: service-mesh-hub/port-number-invalid: \
         spec.port.port: Invalid value: 70000: must be between 1 and 65535, inclusive \
         (run: failover-webhook explain PortNumberInvalid)\n"
    );
    assert!(
        stderr(&o).contains("reference and conflict rules were skipped"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn warnings_alone_exit_zero_and_strict_references_make_them_deny() {
    let file = "examples/reference/service-not-found.yaml";
    let o = check(&["--snapshot", SNAPSHOT, file]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains(": warning: ") && stdout(&o).contains("explain ServiceNotFound)"),
        "{}",
        stdout(&o)
    );
    let o = check(&["--snapshot", SNAPSHOT, "--strict-references", file]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(": error: ") && stdout(&o).contains("explain ServiceNotFound)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn json_output_is_one_array_of_findings_with_the_contract_keys() {
    let o = check(&[
        "--snapshot",
        SNAPSHOT,
        "--output",
        "json",
        "examples/conflict",
        "examples/reference/mesh-not-found.yaml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let findings: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(findings.len(), 5);
    for f in &findings {
        let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "code",
                "column",
                "deny",
                "effect",
                "field",
                "file",
                "line",
                "message",
                "name",
                "namespace"
            ]
        );
    }
    let not_found = findings
        .iter()
        .find(|f| f["code"] == "MeshNotFound")
        .unwrap();
    assert_eq!(not_found["deny"], false);
    assert_eq!(not_found["field"], "spec.failoverServices[0]");
    assert_eq!(not_found["file"], "examples/reference/mesh-not-found.yaml");
    assert_eq!(not_found["namespace"], "service-mesh-hub");
    assert_eq!(not_found["name"], "mesh-not-found");
    assert!(not_found["line"].as_u64().is_some_and(|l| l > 1));
    assert!(not_found["column"].as_u64().is_some_and(|c| c > 1));
}

#[test]
fn reads_standard_input() {
    let mut child = bin()
        .args(["check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            std::fs::read(Path::new("examples/spec/port-required.yaml"))
                .unwrap()
                .as_slice(),
        )
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("-:7:1: error: service-mesh-hub/port-required: spec.port: "),
        "{}",
        stdout(&o)
    );
}

#[test]
fn malformed_input_exits_two_naming_file_and_document() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: ConfigMap\n---\nkind: [oops\n").unwrap();
    let o = check(&[bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad.yaml (document 2): malformed YAML"),
        "{}",
        stderr(&o)
    );

    let o = check(&["does/not/exist.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does/not/exist.yaml"), "{}", stderr(&o));

    let o = check(&["--snapshot", bad.to_str().unwrap(), "examples/valid"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(check(&[]).status.code(), Some(2));
    assert_eq!(
        check(&["--output", "xml", "examples"]).status.code(),
        Some(2)
    );
}

#[test]
fn version_and_help() {
    let o = bin().arg("--version").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        format!("failover-webhook {}\n", env!("CARGO_PKG_VERSION"))
    );
    let o = bin().args(["check", "--help"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    for option in [
        "--snapshot",
        "--default-cluster",
        "--strict-references",
        "--output",
    ] {
        assert!(stdout(&o).contains(option), "{option} missing from help");
    }
}

#[test]
fn default_cluster_fills_spec_cluster() {
    let o = check(&["examples/spec/cluster-required.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    let o = check(&[
        "--default-cluster",
        "mgmt-cluster",
        "examples/spec/cluster-required.yaml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

/// A manifest that means to be a FailoverService but is not ours is never judged by the
/// webhook: reported, and not a pass.
#[test]
fn near_miss_kinds_and_groups_are_findings_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fsvc.yaml");
    std::fs::write(
        &file,
        std::fs::read_to_string("examples/valid/checkout-failover.yaml")
            .unwrap()
            .replace("kind: FailoverService", "kind: failoverservice"),
    )
    .unwrap();
    let o = check(&["--allow-empty", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "kind: kind \"failoverservice\" is not \"FailoverService\" (kinds are case-sensitive)"
        ),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).ends_with("(NotAFailoverService)\n"));

    std::fs::write(
        &file,
        std::fs::read_to_string("examples/valid/checkout-failover.yaml")
            .unwrap()
            .replace("networking.smh.solo.io", "networking.mesh.gloo.solo.io"),
    )
    .unwrap();
    let o = check(&["--output", "json", "--allow-empty", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let findings: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(findings[0]["code"], "NotAFailoverService");
    assert_eq!(findings[0]["field"], "apiVersion");
    assert_eq!(findings[0]["deny"], true);
    assert!(
        stderr(&o).contains("1 object(s) look like FailoverServices"),
        "{}",
        stderr(&o)
    );
}

/// Finding nothing to check is an error unless asked for, and the files a folder held that
/// were not read are named.
#[test]
fn paths_with_no_failover_service_exit_two_unless_allowed_and_skipped_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "# manifests\n").unwrap();
    std::fs::write(
        dir.path().join("fsvc.yml.txt"),
        std::fs::read_to_string("examples/valid/checkout-failover.yaml").unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();

    let o = check(&[path]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("no FailoverService (networking.smh.solo.io) found in the given paths"),
        "{err}"
    );
    for skipped in ["README.md", "fsvc.yml.txt"] {
        let line = format!(
            "note: skipped {}: only .yaml, .yml and .json files are read from folders",
            dir.path().join(skipped).display()
        );
        assert!(err.contains(&line), "{line} in {err}");
    }
    assert!(!err.contains("cm.yaml"), "{err}");

    let o = check(&["--allow-empty", path]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("checked 0 FailoverService(s)"));
    let o = bin()
        .args(["check", path])
        .env("FAILOVER_WEBHOOK_ALLOW_EMPTY", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Boolean variables read like other Kubernetes tools read them, and `--flag` alone still
/// means true.
#[test]
fn boolean_environment_variables_accept_the_usual_spellings() {
    let file = "examples/reference/service-not-found.yaml";
    let with_env = |value: &str| {
        bin()
            .args(["check", "--snapshot", SNAPSHOT, file])
            .env("FAILOVER_WEBHOOK_STRICT_REFERENCES", value)
            .output()
            .unwrap()
    };
    for on in ["true", "True", "1", "yes", "on", "y"] {
        assert_eq!(with_env(on).status.code(), Some(1), "{on}");
    }
    for off in ["false", "0", "no", "off", "n"] {
        assert_eq!(with_env(off).status.code(), Some(0), "{off}");
    }
    let o = with_env("maybe");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("maybe"), "{}", stderr(&o));

    let o = check(&["--snapshot", SNAPSHOT, "--strict-references", file]);
    assert_eq!(o.status.code(), Some(1));
}

/// A `generateName` manifest as `kubectl create` takes it, with a hostname nobody else holds.
fn generate_name_manifest(prefix: &str) -> String {
    format!(
        "apiVersion: networking.smh.solo.io/v1alpha1\nkind: FailoverService\n\
         metadata: {{generateName: {prefix}, namespace: bookinfo}}\n\
         spec:\n  hostname: unclaimed.bookinfo.failover\n  port: {{port: 9080, name: http}}\n  \
         cluster: mgmt-cluster\n  failoverServices:\n  \
         - {{name: reviews, namespace: bookinfo, cluster: mgmt-cluster}}\n"
    )
}

#[test]
fn a_generate_name_manifest_never_conflicts_with_itself_but_two_conflict_with_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.yaml");
    std::fs::write(&one, generate_name_manifest("a-")).unwrap();
    let o = check(&["--snapshot", SNAPSHOT, one.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(!stdout(&o).contains("HostnameConflict"), "{}", stdout(&o));

    let two = dir.path().join("two.yaml");
    std::fs::write(
        &two,
        format!(
            "{}---\n{}",
            generate_name_manifest("a-"),
            generate_name_manifest("a-")
        ),
    )
    .unwrap();
    let o = check(&["--snapshot", SNAPSHOT, two.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let conflicts: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("explain HostnameConflict"))
        .collect();
    assert_eq!(conflicts.len(), 2, "{}", stdout(&o));
    assert!(conflicts[0].contains("bookinfo/a-*2"), "{}", conflicts[0]);
    assert!(conflicts[1].contains("bookinfo/a-*1"), "{}", conflicts[1]);
}

/// The rollout report: an exported cluster checked against itself, where the skip-rules
/// annotation accepts a conflict (exit 0, the skip shown) and a typo in it is warned about.
#[test]
fn the_skip_rules_annotation_is_honoured_and_its_typos_reported() {
    let dir = tempfile::tempdir().unwrap();
    let conflict = std::fs::read_to_string("examples/conflict/hostname-conflict.yaml").unwrap();
    let annotated = |codes: &str| {
        conflict.replacen(
            "metadata:\n",
            &format!(
                "metadata:\n  annotations:\n    failover-webhook.smh.solo.io/skip-rules: \"{codes}\"\n"
            ),
            1,
        )
    };
    let file = dir.path().join("fs.yaml");

    std::fs::write(&file, annotated("HostnameConflict")).unwrap();
    let o = check(&["--snapshot", SNAPSHOT, file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            ": warning: skipped by failover-webhook.smh.solo.io/skip-rules: \
             service-mesh-hub/hostname-conflict: spec.hostname: Duplicate value: "
        ),
        "{}",
        stdout(&o)
    );

    std::fs::write(&file, annotated("HostnameConflicts")).unwrap();
    let o = check(&["--snapshot", SNAPSHOT, file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "warning: {}: service-mesh-hub/hostname-conflict: failover-webhook.smh.solo.io/skip-rules: \
             unknown rule code \"HostnameConflicts\" ignored (did you mean HostnameConflict?)",
            file.display()
        )),
        "{}",
        stderr(&o)
    );
}

/// The one line `check` prints when it cannot give a verdict, pinned byte for byte: scripts
/// match on it.
#[test]
fn an_error_is_one_line_naming_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: ConfigMap\n---\nkind: [oops\n").unwrap();
    let bad = bad.to_str().unwrap();
    let cm = dir.path().join("cm.yaml");
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    )
    .unwrap();
    let line = |args: &[&str]| {
        let o = check(args);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        let line = err
            .lines()
            .find(|l| l.starts_with("failover-webhook: error: "))
            .map(str::to_owned);
        line.unwrap_or_else(|| panic!("no error line in {err}"))
    };
    assert_eq!(
        line(&["does/not/exist.yaml"]),
        "failover-webhook: error: does/not/exist.yaml: No such file or directory (os error 2)"
    );
    let malformed = line(&[bad]);
    assert!(
        malformed.starts_with(&format!(
            "failover-webhook: error: {bad} (document 2): malformed YAML: "
        )),
        "{malformed}"
    );
    let snapshot = line(&["--snapshot", bad, "examples/valid"]);
    assert!(
        snapshot.starts_with(&format!(
            "failover-webhook: error: {bad} (document 2): malformed YAML: "
        )),
        "{snapshot}"
    );
    assert_eq!(
        line(&[cm.to_str().unwrap()]),
        "failover-webhook: error: no FailoverService (networking.smh.solo.io) found in the given \
         paths; pass --allow-empty if that is expected"
    );
}

/// A report that cannot be written is an error; a reader closing the pipe is not.
#[test]
fn a_report_that_cannot_be_written_is_an_error() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = bin()
        .args(["check", "--output", "json", "examples/valid"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).ends_with(
            "failover-webhook: error: writing the report: No space left on device (os error 28)\n"
        ),
        "{}",
        stderr(&o)
    );
}

/// `--kube` without any cluster configuration says so before listing anything.
#[test]
fn kube_without_a_cluster_configuration_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["check", "--kube", "examples/valid"])
        .env("KUBECONFIG", dir.path().join("no-such-kubeconfig"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("failover-webhook: error: --kube: no cluster configuration: "),
        "{}",
        stderr(&o)
    );
}
