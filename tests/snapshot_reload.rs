//! `--snapshot` files re-read on change, through the certificate folder watch: a new good
//! file replaces the topology, a bad one is logged and the last good topology stays.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::server::eventually;
use failover_webhook::serve::snapshot_reload::SnapshotWatch;
use failover_webhook::server::ReloadSettings;
use failover_webhook::topology::{SharedTopology, snapshot};
use tokio_util::sync::CancellationToken;

fn cluster(name: &str) -> String {
    format!(
        "apiVersion: discovery.smh.solo.io/v1alpha1\nkind: KubernetesCluster\n\
         metadata: {{name: {name}, namespace: smh}}\n"
    )
}

async fn reloads_with(settings: ReloadSettings) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.yaml");
    std::fs::write(&file, cluster("first")).unwrap();
    let paths = vec![file.clone()];
    let watch = SnapshotWatch::new(paths.clone(), settings);
    let failures = watch.failures();
    let shared = SharedTopology::new(snapshot::load(&paths).unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(watch.run(shared.clone(), stop.clone()));
    let limit = Duration::from_secs(30);

    std::fs::write(&file, cluster("second")).unwrap();
    eventually(limit, "the new snapshot", || async {
        shared.load().is_cluster_registered("second").then_some(())
    })
    .await;

    // A file that does not parse keeps the last good topology; the next good one loads.
    std::fs::write(&file, "kind: [unclosed\n").unwrap();
    eventually(limit, "the bad snapshot tried", || async {
        (failures.load(Ordering::Relaxed) == 1).then_some(())
    })
    .await;
    assert!(shared.load().is_cluster_registered("second"));
    std::fs::write(&file, cluster("third")).unwrap();
    eventually(limit, "the snapshot after a bad one", || async {
        shared.load().is_cluster_registered("third").then_some(())
    })
    .await;
    assert!(!shared.load().is_cluster_registered("second"));
    stop.cancel();
}

#[tokio::test]
async fn a_changed_snapshot_is_seen_by_the_folder_watch() {
    reloads_with(ReloadSettings {
        poll_interval: Duration::from_secs(3600),
        debounce: Duration::from_millis(50),
        watch: true,
    })
    .await;
}

#[tokio::test]
async fn a_changed_snapshot_is_seen_by_the_poll_alone() {
    reloads_with(ReloadSettings {
        poll_interval: Duration::from_millis(50),
        debounce: Duration::from_millis(50),
        watch: false,
    })
    .await;
}
