use std::io;

use crate::manifest::ManifestError;
use crate::topology::snapshot::SnapshotError;

/// Why `check` gave no verdict (exit status 2). Each message already ends with its source's
/// text, as the one `failover-webhook: error:` line shows it; the source itself is kept for
/// callers that want to match on it.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A manifest path could not be read, or a document in it is malformed.
    #[error(transparent)]
    Manifests(#[from] ManifestError),
    /// A `--snapshot` file could not be read or indexed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// `--kube`: the async runtime for the cluster client could not be started.
    #[error("cannot start: {0}")]
    Runtime(#[source] io::Error),
    /// `--kube`: no usable cluster configuration, or no client could be built from it.
    #[error(transparent)]
    Cluster(#[from] crate::serve::Error),
    /// `--kube`: listing a topology kind failed.
    #[error("--kube: listing the topology: {0}")]
    List(#[source] kube::Error),
    /// Standard output refused the report (a closed pipe is not an error).
    #[error("writing the report: {0}")]
    Write(#[source] io::Error),
    /// The paths hold no FailoverService and `--allow-empty` was not given: a check that
    /// checked nothing is more likely a wrong path or a misspelt kind.
    #[error(
        "no FailoverService (networking.smh.solo.io) found in the given paths; \
         pass --allow-empty if that is expected"
    )]
    NothingChecked,
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::manifest;
    use crate::topology::snapshot;

    fn io_error() -> io::Error {
        io::Error::from(io::ErrorKind::StorageFull)
    }

    fn kube_error() -> kube::Error {
        kube::Error::SerdeError(serde_json::from_str::<u8>("x").unwrap_err())
    }

    /// `text` exactly, and a kept source whose own text the message already shows.
    fn assert_shows(e: &CheckError, text: &str) {
        assert_eq!(e.to_string(), text);
        let source = e
            .source()
            .unwrap_or_else(|| panic!("no source kept: {e:?}"));
        assert!(text.ends_with(&source.to_string()), "{source} in {text}");
    }

    #[test]
    fn each_error_keeps_its_source_and_shows_its_text() {
        assert_shows(
            &CheckError::Runtime(io_error()),
            &format!("cannot start: {}", io_error()),
        );
        assert_shows(
            &CheckError::List(kube_error()),
            "--kube: listing the topology: Error deserializing response: expected value at \
             line 1 column 1",
        );
        assert_shows(
            &CheckError::Write(io_error()),
            &format!("writing the report: {}", io_error()),
        );
        assert_shows(
            &CheckError::from(crate::serve::Error::KubeClient(kube_error())),
            "--kube: cannot build the cluster client: Error deserializing response: expected \
             value at line 1 column 1",
        );
    }

    #[test]
    fn input_errors_read_as_their_own_messages() {
        let missing = manifest::read_paths(&["does/not/exist.yaml".into()]).unwrap_err();
        let e = CheckError::from(missing);
        assert_shows(
            &e,
            "does/not/exist.yaml: No such file or directory (os error 2)",
        );
        let io = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(io.map(io::Error::kind), Some(io::ErrorKind::NotFound));

        let docs = manifest::parse(
            "snap.yaml",
            "apiVersion: discovery.smh.solo.io/v1alpha1\nkind: Mesh\n\
             metadata: {name: m, namespace: smh}\nspec: [1]\n",
        )
        .unwrap();
        let e = CheckError::from(snapshot::from_documents(docs).unwrap_err());
        assert_shows(
            &e,
            "snap.yaml (document 1): Mesh smh/m: invalid type: sequence, expected struct \
             MeshSpecView",
        );
    }

    #[test]
    fn checking_nothing_has_no_source() {
        let e = CheckError::NothingChecked;
        assert_eq!(
            e.to_string(),
            "no FailoverService (networking.smh.solo.io) found in the given paths; pass \
             --allow-empty if that is expected"
        );
        assert!(e.source().is_none());
    }
}
