//! Topology from files: what `kubectl get kubernetesclusters,meshservices,meshes,virtualmeshes,
//! failoverservices -A -o yaml` prints, or any folder of such files.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use crate::api::Kind;
use crate::manifest::{self, Document, Location, ManifestError, Source};

use super::{Topology, TopologyBuilder, TopologyError};

mod json;
mod stream;
mod window;

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
/// Files are streamed, never held whole: JSON through a window (see [`window`]), a YAML file of
/// one document through serde-saphyr (see [`stream`]); a `kind: List`'s items are decoded into
/// the index one at a time. Should a stream reader meet anything it does not read exactly as
/// the text reader does (an error above all), every file is read again through the text
/// reader, whose result or error message then stands: JSON decoded into the index document by
/// document (see [`json`]), YAML through generic values, one file's text at a time. Standard
/// input is always read that way.
pub fn load_builder(paths: &[PathBuf]) -> Result<TopologyBuilder, SnapshotError> {
    let streamed = if paths.iter().any(|p| p.as_os_str() == "-") {
        None
    } else {
        load_streamed(paths).ok()
    };
    let builder = match streamed {
        Some(builder) => builder,
        None => load_text(paths)?,
    };
    crate::release_free_memory();
    Ok(builder)
}

fn load_streamed(paths: &[PathBuf]) -> Result<TopologyBuilder, stream::GaveUp> {
    let mut builder = Topology::builder();
    manifest::each_source(paths, |source| match source {
        Source::Stdin => Err(stream::GaveUp),
        Source::File(path) => {
            let file = path.display().to_string();
            let mut reader =
                BufReader::with_capacity(1 << 16, File::open(path).map_err(|_| stream::GaveUp)?);
            match first_byte(&mut reader) {
                Some(b'{') => window::read(&mut builder, &file, reader),
                // JSON the stream reader does not read (a top-level array), or text whose
                // start the two readers might tell apart differently.
                Some(b) if b == b'[' || !b.is_ascii() || b.is_ascii_whitespace() => {
                    Err(stream::GaveUp)
                }
                _ => {
                    let len = std::fs::metadata(path).map_or(0, |m| m.len());
                    let len = usize::try_from(len).unwrap_or(usize::MAX);
                    stream::read_yaml(&mut builder, &file, reader, len)
                }
            }
        }
    })?;
    Ok(builder)
}

/// The first byte that is not JSON whitespace, if the reader's buffer holds one; nothing is
/// consumed (leading spaces matter to YAML).
fn first_byte(reader: &mut impl BufRead) -> Option<u8> {
    let buf = reader.fill_buf().ok()?;
    buf.iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
}

fn load_text(paths: &[PathBuf]) -> Result<TopologyBuilder, SnapshotError> {
    let mut builder = Topology::builder();
    manifest::each_text(paths, |file, text| add_text(&mut builder, file, text))?;
    Ok(builder)
}

/// One file's text, JSON or YAML.
fn add_text(builder: &mut TopologyBuilder, file: &str, text: &str) -> Result<(), SnapshotError> {
    if manifest::is_json(text) {
        json::read(builder, file, text)
    } else {
        manifest::parse(file, text)?
            .into_iter()
            .try_for_each(|doc| add_document(builder, doc))
    }
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

/// One item of a `kind: List`, read from a generic value as the whole-text reader reads it.
fn add_list_item(
    builder: &mut TopologyBuilder,
    location: Location,
    value: serde_json::Value,
) -> Result<(), SnapshotError> {
    if !value.is_object() {
        return Err(ManifestError::Parse {
            location,
            message: "a List item must be an object".into(),
        }
        .into());
    }
    add_document(
        builder,
        Document {
            location,
            value,
            positions: Default::default(),
        },
    )
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
    fn generic(file: &str, text: &str) -> Result<Topology, SnapshotError> {
        manifest::parse(file, text)
            .map_err(SnapshotError::from)
            .and_then(from_documents)
    }

    fn streamed(dir: &std::path::Path, text: &str) -> Result<Topology, SnapshotError> {
        let file = dir.join("snap.json");
        std::fs::write(&file, text).unwrap();
        load(&[file])
    }

    /// What a caller can tell of an error: its message, the variant, and each source's text.
    fn seen(e: &SnapshotError) -> (String, &'static str, Vec<String>) {
        let variant = match e {
            SnapshotError::Manifest(ManifestError::Read { .. }) => "read",
            SnapshotError::Manifest(ManifestError::Json { .. }) => "json",
            SnapshotError::Manifest(ManifestError::Yaml { .. }) => "yaml",
            SnapshotError::Manifest(ManifestError::Parse { .. }) => "parse",
            SnapshotError::Object { .. } => "object",
        };
        let sources = std::iter::successors(std::error::Error::source(e), |s| s.source())
            .map(ToString::to_string)
            .collect();
        (e.to_string(), variant, sources)
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
                "json",
            ),
            // A List item that is not an object.
            (
                format!(r#"{{"kind": "List", "items": [{MS}, 5]}}"#),
                "(document 1, item 2): a List item must be an object",
                "parse",
            ),
            // A List whose items are not a list.
            (
                r#"{"kind": "List", "items": {"a": 1}}"#.to_owned(),
                "(document 1): `items` of a List must be a list",
                "parse",
            ),
            // A document that is not an object.
            (
                format!("{MS}\n[1]"),
                "(document 2): a manifest document must be an object",
                "parse",
            ),
            // A field of the wrong shape, inside a List and on its own.
            (
                format!(r#"{{"kind": "List", "items": [{MS}, {bad_ms}]}}"#),
                "(document 1, item 2): MeshService smh/s: invalid type: integer `3`",
                "object",
            ),
            (
                format!("{MS}\n{bad_ms}"),
                "(document 2): MeshService smh/s: invalid type: integer `3`",
                "object",
            ),
        ];
        for (text, expected, variant) in cases {
            let s = streamed(dir.path(), &text).unwrap_err();
            let g = generic(&path, &text).unwrap_err();
            assert_eq!(seen(&s), seen(&g), "{text}");
            let (message, got, sources) = seen(&s);
            assert!(
                message.starts_with(&format!("{path} {expected}")),
                "{message}"
            );
            assert_eq!(got, variant, "{message}");
            if got == "object" {
                // The object's error, then serde's: kept, and shown once, at the end.
                assert_eq!(sources.len(), 2, "{sources:?}");
                assert!(message.ends_with(&sources[0]), "{message}");
                assert!(sources[0].ends_with(&sources[1]), "{sources:?}");
            }
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

    fn write(dir: &std::path::Path, text: &[u8]) -> PathBuf {
        let file = dir.join("snap.json");
        std::fs::write(&file, text).unwrap();
        file
    }

    #[test]
    fn a_kubectl_json_list_is_streamed_with_its_kind_before_or_after_its_items() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = r#"{"apiVersion": "discovery.smh.solo.io/v1alpha1", "kind": "KubernetesCluster",
                          "metadata": {"name": "c1", "namespace": "smh"}}"#;
        for text in [
            format!(r#"{{"apiVersion": "v1", "items": [{MS}, {cluster}], "kind": "List"}}"#),
            format!(
                r#"{{"kind": "List", "n": 1234567, "items": [{MS}, {cluster}], "m": {{}}}}{MS}"#
            ),
            format!("\n{MS}\n{cluster}\n"),
        ] {
            let file = write(dir.path(), text.as_bytes());
            let t = load_streamed(std::slice::from_ref(&file))
                .unwrap_or_else(|_| panic!("not streamed: {text}"))
                .build();
            let svc = t.service("svc", "ns", "c1").unwrap();
            assert_eq!(svc.mesh.as_ref().unwrap().name, "m1");
            assert!(svc.outlier_detection && t.is_cluster_registered("c1"));
        }
    }

    #[test]
    fn what_the_stream_reader_gives_up_on_the_text_reader_decides() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(Vec<u8>, Result<usize, &str>); 5] = [
            // `items` read as a List's before `kind` says the document is something else.
            (
                format!(r#"{{"items": [{MS}], "kind": "ConfigMap"}}"#).into_bytes(),
                Ok(0),
            ),
            // A duplicate top-level key: the last wins.
            (
                format!(r#"{{"kind": "ConfigMap", "kind": "List", "items": [{MS}]}}"#).into_bytes(),
                Ok(1),
            ),
            // A `null` document, skipped.
            (format!("{MS}\nnull").into_bytes(), Ok(1)),
            (
                b"{\"kind\": \"List\", \"items\": [{\"kind\": \"\xff\"}]}".to_vec(),
                Err("stream did not contain valid UTF-8"),
            ),
            (
                format!(r#"{{"kind": "List", "items": [{MS}, 5]}}"#).into_bytes(),
                Err("(document 1, item 2): a List item must be an object"),
            ),
        ];
        for (text, expected) in cases {
            let file = write(dir.path(), &text);
            let shown = String::from_utf8_lossy(&text);
            assert!(
                load_streamed(std::slice::from_ref(&file)).is_err(),
                "{shown}"
            );
            match (load(&[file]), expected) {
                (Ok(t), Ok(n)) => assert_eq!(t.count(Kind::MeshService), n, "{shown}"),
                (Err(e), Err(message)) => assert!(e.to_string().contains(message), "{e}"),
                (got, _) => panic!("{shown}: {:?}", got.map(|t| t.count(Kind::MeshService))),
            }
        }
    }

    #[test]
    fn a_kubectl_yaml_list_is_streamed_and_read_as_the_text_reader_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("snap.yaml");
        let ms = "- apiVersion: discovery.smh.solo.io/v1alpha1\n  kind: MeshService\n  \
                  metadata:\n    name: s\n    namespace: smh\n    labels: {on: yes}\n  \
                  spec:\n    kubeService:\n      ref: {name: svc, namespace: ns, cluster: c1}\n    \
                  mesh: {name: m1, namespace: smh}\n  \
                  status:\n    validatedTrafficPolicies:\n    - trafficPolicySpec:\n        \
                  outlierDetection: {consecutiveErrors: 5}\n";
        let cluster = "- {apiVersion: discovery.smh.solo.io/v1alpha1, kind: KubernetesCluster, \
                       metadata: {name: c1, namespace: smh}}\n- {apiVersion: v1, kind: ConfigMap}\n";
        std::fs::write(
            &file,
            format!("apiVersion: v1\nitems:\n{ms}{cluster}kind: List\nmetadata: {{}}\n"),
        )
        .unwrap();
        let paths = [file];
        let streamed = load_streamed(&paths).unwrap().build();
        let text = load_text(&paths).unwrap().build();
        for t in [&streamed, &text] {
            let svc = t.service("svc", "ns", "c1").unwrap();
            assert_eq!(svc.mesh.as_ref().unwrap().name, "m1");
            assert!(svc.outlier_detection && t.is_cluster_registered("c1"));
            assert_eq!(t.count(Kind::MeshService), 1);
        }
        // Several documents, and a malformed item: the text reader's answer.
        for (text, expected) in [
            (
                format!("kind: Other\n---\n{}", &ms[2..].replace("\n  ", "\n")),
                Ok(1),
            ),
            (
                format!("kind: List\nitems:\n{ms}- 5\n"),
                Err("(document 1, item 2): a List item must be an object"),
            ),
        ] {
            std::fs::write(&paths[0], &text).unwrap();
            assert!(load_streamed(&paths).is_err(), "{text}");
            match (load(&paths), expected) {
                (Ok(t), Ok(n)) => assert_eq!(t.count(Kind::MeshService), n, "{text}"),
                (Err(e), Err(message)) => assert!(e.to_string().contains(message), "{e}"),
                (got, _) => panic!("{text}: {:?}", got.map(|t| t.count(Kind::MeshService))),
            }
        }
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
