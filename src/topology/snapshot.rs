//! Topology from files: what `kubectl get kubernetesclusters,meshservices,meshes,virtualmeshes,
//! failoverservices -A -o yaml` prints, or any folder of such files.

use std::path::PathBuf;

use crate::api::Kind;
use crate::manifest::{self, Document, Location, ManifestError};

use super::{Topology, TopologyBuilder, TopologyError};

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
    from_documents(manifest::read_paths(paths)?)
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
        let (api_version, kind) = doc.type_meta();
        match Kind::from_type_meta(api_version, kind) {
            Some(k) => builder
                .insert(k, &doc.value)
                .map_err(|source| SnapshotError::Object {
                    location: doc.location.clone(),
                    source,
                })?,
            None => tracing::info!(
                location = %doc.location,
                api_version,
                kind,
                "skipping an object that is not part of the topology"
            ),
        }
    }
    Ok(builder)
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
}
