//! Topology from files: what `kubectl get kubernetesclusters,meshservices,meshes,virtualmeshes,
//! failoverservices -A -o yaml` prints, or any folder of such files.

use std::path::PathBuf;

use crate::api::Kind;
use crate::manifest::{self, Document, Location, ManifestError};

use super::{Topology, TopologyBuilder, TopologyError};

mod json;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{location}: {source}")]
    Object {
        location: Location,
        #[source]
        source: TopologyError,
    },
}

/// Reads and indexes snapshot files. Objects of other kinds are skipped (and logged): a
/// snapshot of a whole namespace is fine.
pub fn load(paths: &[PathBuf]) -> Result<Topology, SnapshotError> {
    load_builder(paths).map(TopologyBuilder::build)
}

/// Like [`load`], but leaves the builder open for more objects.
///
/// JSON is decoded straight into the index, one object at a time (see [`json`]); YAML goes
/// through generic values, document by document. Either way only one file's text is held at a
/// time.
pub fn load_builder(paths: &[PathBuf]) -> Result<TopologyBuilder, SnapshotError> {
    let mut builder = Topology::builder();
    manifest::each_text(paths, |file, text| {
        if manifest::is_json(text) {
            json::read(&mut builder, file, text)
        } else {
            manifest::parse(file, text)?
                .into_iter()
                .try_for_each(|doc| add_document(&mut builder, doc))
        }
    })?;
    crate::release_free_memory();
    Ok(builder)
}

pub fn from_documents(docs: impl IntoIterator<Item = Document>) -> Result<Topology, SnapshotError> {
    builder_from_documents(docs).map(TopologyBuilder::build)
}

/// Like [`from_documents`], but leaves the builder open for more objects.
pub fn builder_from_documents(
    docs: impl IntoIterator<Item = Document>,
) -> Result<TopologyBuilder, SnapshotError> {
    let mut builder = Topology::builder();
    for doc in docs {
        add_document(&mut builder, doc)?;
    }
    Ok(builder)
}

fn add_document(builder: &mut TopologyBuilder, doc: Document) -> Result<(), SnapshotError> {
    let (api_version, kind) = doc.type_meta();
    match Kind::from_type_meta(api_version, kind) {
        Some(k) => builder
            .insert(k, &doc.value)
            .map_err(|source| SnapshotError::Object {
                location: doc.location.clone(),
                source,
            }),
        None => {
            skipped(&doc.location, api_version, kind);
            Ok(())
        }
    }
}

fn skipped(location: &Location, api_version: &str, kind: &str) {
    tracing::info!(
        %location,
        api_version,
        kind,
        "skipping an object that is not part of the topology"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_a_kubectl_list_and_skips_other_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("snap.yaml");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: List\nitems:\n\
             - apiVersion: discovery.smh.solo.io/v1alpha1\n  kind: KubernetesCluster\n  metadata: {name: c1, namespace: smh}\n\
             - apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: x}\n",
        )
        .unwrap();
        let t = load(&[file]).unwrap();
        assert!(t.is_cluster_registered("c1"));
        assert_eq!(t.count(Kind::KubernetesCluster), 1);
    }

    #[test]
    fn a_malformed_object_is_named_with_file_and_document() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("snap.yaml");
        std::fs::write(
            &file,
            "kind: Other\n---\napiVersion: discovery.smh.solo.io/v1alpha1\nkind: Mesh\nmetadata: {name: m, namespace: smh}\nspec: [1]\n",
        )
        .unwrap();
        let err = load(&[file]).unwrap_err().to_string();
        assert!(
            err.contains("snap.yaml (document 2): Mesh smh/m: "),
            "{err}"
        );
    }

    /// The index the generic reader builds: every value tree first, then the index.
    fn generic(file: &str, text: &str) -> Result<Topology, String> {
        manifest::parse(file, text)
            .map_err(SnapshotError::from)
            .and_then(from_documents)
            .map_err(|e| e.to_string())
    }

    fn streamed(dir: &std::path::Path, text: &str) -> Result<Topology, String> {
        let file = dir.join("snap.json");
        std::fs::write(&file, text).unwrap();
        load(&[file]).map_err(|e| e.to_string())
    }

    const MS: &str = r#"{"apiVersion": "discovery.smh.solo.io/v1alpha1", "kind": "MeshService",
        "metadata": {"name": "s", "namespace": "smh", "uid": "x", "labels": {"a": "b"}},
        "spec": {"kubeService": {"ref": {"name": "svc", "namespace": "ns", "cluster": "c1"},
                                 "ports": [{"port": 1}]},
                 "mesh": {"name": "m1", "namespace": "smh"}},
        "status": {"validatedTrafficPolicies": [{"trafficPolicySpec": {"outlierDetection": {}}}]}}"#;

    #[test]
    fn a_json_list_is_indexed_as_the_generic_reader_indexes_it() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            r#"{{"apiVersion": "v1", "items": [{MS},
                {{"apiVersion": "discovery.smh.solo.io/v1alpha1", "kind": "KubernetesCluster",
                  "metadata": {{"name": "c1", "namespace": "smh"}}}},
                {{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "x"}}}}],
                "kind": "List", "metadata": {{"resourceVersion": ""}}}}
            {MS}"#
        );
        let path = dir.path().join("snap.json");
        let t = streamed(dir.path(), &text).unwrap();
        let g = generic(&path.display().to_string(), &text).unwrap();
        for t in [&t, &g] {
            let svc = t.service("svc", "ns", "c1").unwrap();
            assert_eq!(svc.mesh_service.name, "s");
            assert_eq!(svc.mesh.as_ref().unwrap().name, "m1");
            assert!(svc.outlier_detection);
            assert!(t.is_cluster_registered("c1"));
            assert_eq!(t.count(Kind::MeshService), 1);
        }
    }

    #[test]
    fn the_streaming_reader_fails_as_the_generic_reader_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.json").display().to_string();
        let bad_ms = MS.replace(
            r#""mesh": {"name": "m1", "namespace": "smh"}"#,
            r#""mesh": 3"#,
        );
        let cases = [
            // A syntax error in the second document.
            (
                format!("{MS}\n{{\"kind\": "),
                "(document 2): malformed JSON: ",
            ),
            // A List item that is not an object.
            (
                format!(r#"{{"kind": "List", "items": [{MS}, 5]}}"#),
                "(document 1, item 2): a List item must be an object",
            ),
            // A List whose items are not a list.
            (
                r#"{"kind": "List", "items": {"a": 1}}"#.to_owned(),
                "(document 1): `items` of a List must be a list",
            ),
            // A document that is not an object.
            (
                format!("{MS}\n[1]"),
                "(document 2): a manifest document must be an object",
            ),
            // A field of the wrong shape, inside a List and on its own.
            (
                format!(r#"{{"kind": "List", "items": [{MS}, {bad_ms}]}}"#),
                "(document 1, item 2): MeshService smh/s: invalid type: integer `3`",
            ),
            (
                format!("{MS}\n{bad_ms}"),
                "(document 2): MeshService smh/s: invalid type: integer `3`",
            ),
        ];
        for (text, expected) in cases {
            let s = streamed(dir.path(), &text).unwrap_err();
            assert_eq!(s, generic(&path, &text).unwrap_err(), "{text}");
            assert!(s.starts_with(&format!("{path} {expected}")), "{s}");
        }
    }

    #[test]
    fn what_the_generic_reader_accepts_the_streaming_reader_accepts() {
        let dir = tempfile::tempdir().unwrap();
        // A duplicate key (the last wins), `items: null`, a JSON `null` document, and a
        // FailoverService of any shape.
        let text = r#"{"apiVersion": "discovery.smh.solo.io/v1alpha1", "kind": "KubernetesCluster",
                       "metadata": {"name": "c0", "namespace": "smh"},
                       "metadata": {"name": "c1", "namespace": "smh"}}
                      {"kind": "List", "items": null}
                      null
                      {"apiVersion": "networking.smh.solo.io/v1alpha1", "kind": "FailoverService",
                       "metadata": {"name": "f", "namespace": "n"}, "spec": [1, 2]}"#;
        let t = streamed(dir.path(), text).unwrap();
        assert!(t.is_cluster_registered("c1") && !t.is_cluster_registered("c0"));
        assert_eq!(t.count(Kind::FailoverService), 1);
    }

    #[test]
    fn a_folder_of_json_and_yaml_snapshots_loads_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), MS).unwrap();
        std::fs::write(
            dir.path().join("b.yaml"),
            "apiVersion: discovery.smh.solo.io/v1alpha1\nkind: KubernetesCluster\nmetadata: {name: c1, namespace: smh}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not read").unwrap();
        let t = load(&[dir.path().to_path_buf()]).unwrap();
        assert!(t.service("svc", "ns", "c1").is_some());
        assert!(t.is_cluster_registered("c1"));
    }
}
