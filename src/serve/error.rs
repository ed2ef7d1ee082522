use crate::server;
use crate::topology::snapshot::SnapshotError;

/// Why `serve` could not start (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server could not bind, load its certificate or set up its signals.
    #[error(transparent)]
    Server(#[from] server::Error),
    /// A `--snapshot` file could not be read or indexed at start; the message names the file
    /// and the document index.
    #[error("topology snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
    /// `--kube`: no in-cluster configuration and no usable kubeconfig.
    #[error("--kube: no cluster configuration: {0}")]
    KubeConfig(#[from] kube::config::InferConfigError),
    /// `--kube`: the client could not be built from the configuration.
    #[error("--kube: cannot build the cluster client: {0}")]
    KubeClient(#[source] kube::Error),
    /// The async runtime could not be started.
    #[error("cannot start: {0}")]
    Runtime(#[source] std::io::Error),
}
