//! The topology side of the soak: the server reads its topology from a `--snapshot` file that
//! the soak rewrites on a schedule, alternating two topologies in which one FailoverService
//! flips between allowed and denied, and now and then a snapshot that must not load.
//!
//! Each well-formed review is answered with the topology the server had at that moment, which
//! the soak knows exactly except while a change is on its way: from the write of a new file
//! until the server's log says it was loaded. The answer to a request whose time in flight
//! overlaps such a window may come from either topology; those requests are counted apart, and
//! every other one is checked against the one topology the server had (see [`Epoch`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use failover_webhook::topology::{EMBEDDED_YAML, Topology, snapshot};

/// The log lines that tell the soak what the server did with a changed file.
pub const RELOADED: &str = "topology snapshot reloaded";
pub const REFUSED: &str = "new topology snapshot does not load; keeping the last good one";

/// Removed from the second topology: the `checkout` service on `remote-cluster`, which the
/// example FailoverService (`examples/admission/create-valid.json`) fails over to.
const REMOVED: &str = "checkout-shop-remote-cluster";

/// Snapshots that must be refused: YAML that does not parse, and a well-formed document whose
/// object has the wrong shape.
const MALFORMED: [&str; 2] = [
    "apiVersion: v1\nkind: List\nitems:\n- apiVersion: discovery.smh.solo.io/v1alpha1\n  kind: [unclosed\n",
    "apiVersion: discovery.smh.solo.io/v1alpha1\nkind: MeshService\nmetadata:\n  name: broken\n  namespace: service-mesh-hub\nspec: 42\n",
];

/// The two topologies, as the file's text and as the library loads that text.
pub struct Topologies {
    pub texts: [String; 2],
    pub loaded: [Topology; 2],
    /// MeshServices in each, as `failover_webhook_topology_objects` shows them.
    pub services: [usize; 2],
}

/// The embedded demo topology, and the same without [`REMOVED`]; both loaded through
/// `snapshot::load`, the server's own reader, from files in `scratch`. Also checks that each
/// of [`MALFORMED`] is refused by that reader.
pub fn topologies(scratch: &Path) -> Result<Topologies, String> {
    let a = EMBEDDED_YAML.to_owned();
    let b = without_item(&a, REMOVED)?;
    let load = |name: &str, text: &str| -> Result<Topology, String> {
        let path = scratch.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        snapshot::load(&[path]).map_err(|e| format!("{name}: {e}"))
    };
    let loaded = [load("a.yaml", &a)?, load("b.yaml", &b)?];
    for (i, text) in MALFORMED.iter().enumerate() {
        if load(&format!("malformed-{i}.yaml"), text).is_ok() {
            return Err(format!(
                "malformed snapshot {i} loads; it would test nothing"
            ));
        }
    }
    let kind = failover_webhook::api::Kind::MeshService;
    let services = [loaded[0].count(kind), loaded[1].count(kind)];
    Ok(Topologies {
        texts: [a, b],
        loaded,
        services,
    })
}

/// `text` (a `kind: List` as `kubectl get -o yaml` prints it) without the item named `name`.
fn without_item(text: &str, name: &str) -> Result<String, String> {
    let marker = "\n- apiVersion:";
    let needle = format!("\n    name: {name}\n");
    let start = text
        .find(&needle)
        .and_then(|at| text.get(..at))
        .and_then(|head| head.rfind(marker))
        .ok_or(format!("{name} not in the embedded topology"))?;
    let rest = text.get(start + 1..).unwrap_or_default();
    let end = rest.find(marker).map_or(text.len(), |at| start + 1 + at);
    Ok(format!(
        "{}{}",
        text.get(..start).unwrap_or_default(),
        text.get(end..).unwrap_or_default()
    ))
}

/// What the server has, as far as requests are concerned: `generation` is even while the
/// server's topology is known to be `current`, odd from the write of a new file until the log
/// shows it loaded. A request reads both before it is sent and `generation` again once
/// answered; only when nothing changed in between is its answer held to one topology.
#[derive(Default)]
pub struct Epoch {
    generation: AtomicU64,
    current: AtomicUsize,
}

/// What a request saw when it was sent.
#[derive(Clone, Copy)]
pub struct Seen {
    generation: u64,
    current: usize,
}

impl Epoch {
    pub fn seen(&self) -> Seen {
        Seen {
            generation: self.generation.load(Ordering::SeqCst),
            current: self.current.load(Ordering::SeqCst),
        }
    }

    /// The one topology that answered a request sent at `before`, or `None` when a change
    /// overlapped its time in flight.
    pub fn answered_by(&self, before: Seen) -> Option<usize> {
        let now = self.generation.load(Ordering::SeqCst);
        (before.generation.is_multiple_of(2) && now == before.generation).then_some(before.current)
    }

    fn switching(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn switched(&self, to: usize) {
        self.current.store(to, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts of the server's log lines about the snapshot, kept by the log reader.
#[derive(Default)]
pub struct LogCounts {
    pub reloaded: AtomicU64,
    pub refused: AtomicU64,
}

impl LogCounts {
    pub fn line(&self, message: &str) {
        if message == RELOADED {
            self.reloaded.fetch_add(1, Ordering::SeqCst);
        } else if message == REFUSED {
            self.refused.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// What the soak waits to see in the log after a write: the reload of topology `Some(to)`, or
/// (`None`) the refusal of a malformed file.
struct Pending {
    to: Option<usize>,
    since: Instant,
    /// The log count before the write.
    before: u64,
    /// Already counted as not confirmed in time.
    late: bool,
}

/// What was done and seen, for the report.
#[derive(Default, Debug)]
pub struct Stats {
    pub switches_by_rename: u64,
    pub switches_in_place: u64,
    pub malformed_by_rename: u64,
    pub malformed_in_place: u64,
    pub reloads_confirmed: u64,
    pub refusals_confirmed: u64,
    /// Changes whose log line did not come within [`CONFIRM_WITHIN`].
    pub not_confirmed: u64,
    pub slowest_confirmation: Duration,
}

/// How long a change may take to show in the log (the server polls every 10 s besides
/// watching the folder).
const CONFIRM_WITHIN: Duration = Duration::from_secs(15);

/// Writes the snapshot file on the schedule and follows what the server made of it.
pub struct Driver {
    path: PathBuf,
    texts: [String; 2],
    services: [usize; 2],
    pub epoch: std::sync::Arc<Epoch>,
    logs: std::sync::Arc<LogCounts>,
    step: u64,
    pending: Option<Pending>,
    pub stats: Stats,
}

/// A change the server was seen to apply or refuse: the MeshService count the metrics must now
/// show.
pub struct Confirmed {
    pub services: usize,
}

impl Driver {
    /// Writes the first topology to `path`, which the server is then started on.
    pub fn new(
        path: PathBuf,
        texts: [String; 2],
        services: [usize; 2],
        logs: std::sync::Arc<LogCounts>,
    ) -> Result<Driver, String> {
        std::fs::write(&path, &texts[0]).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Driver {
            path,
            texts,
            services,
            epoch: std::sync::Arc::default(),
            logs,
            step: 0,
            pending: None,
            stats: Stats::default(),
        })
    }

    /// The next change, in a cycle of three: the other topology by atomic rename, the other
    /// topology written in place, a malformed snapshot (by rename and in place in turn). While
    /// the previous change is still unconfirmed, nothing is written.
    pub fn change(&mut self) -> Result<(), String> {
        if self.pending.is_some() {
            return Ok(());
        }
        let step = self.step;
        self.step += 1;
        let by_rename = match step % 3 {
            0 => true,
            1 => false,
            _ => (step / 3).is_multiple_of(2),
        };
        let since = Instant::now();
        let text = if step % 3 == 2 {
            let before = self.logs.refused.load(Ordering::SeqCst);
            self.pending = Some(Pending {
                to: None,
                since,
                before,
                late: false,
            });
            if by_rename {
                self.stats.malformed_by_rename += 1;
            } else {
                self.stats.malformed_in_place += 1;
            }
            MALFORMED[((step / 3) % 2) as usize].to_owned()
        } else {
            let to = 1 - self.epoch.seen().current;
            let before = self.logs.reloaded.load(Ordering::SeqCst);
            self.pending = Some(Pending {
                to: Some(to),
                since,
                before,
                late: false,
            });
            self.epoch.switching();
            if by_rename {
                self.stats.switches_by_rename += 1;
            } else {
                self.stats.switches_in_place += 1;
            }
            self.texts[to].clone()
        };
        write(&self.path, &text, by_rename).map_err(|e| format!("snapshot write: {e}"))
    }

    /// Checks the log for the pending change; returns it once seen.
    pub fn poll(&mut self) -> Option<Confirmed> {
        let pending = self.pending.as_mut()?;
        let count = match pending.to {
            Some(_) => &self.logs.reloaded,
            None => &self.logs.refused,
        };
        if count.load(Ordering::SeqCst) <= pending.before {
            // Counted once; the change stays pending (and requests meanwhile lenient).
            if pending.since.elapsed() > CONFIRM_WITHIN && !pending.late {
                pending.late = true;
                self.stats.not_confirmed += 1;
            }
            return None;
        }
        let waited = pending.since.elapsed();
        self.stats.slowest_confirmation = self.stats.slowest_confirmation.max(waited);
        match self.pending.take()?.to {
            Some(to) => {
                self.stats.reloads_confirmed += 1;
                self.epoch.switched(to);
            }
            None => self.stats.refusals_confirmed += 1,
        }
        Some(Confirmed {
            services: self.services[self.epoch.seen().current],
        })
    }
}

/// Replaces the file's content: through a temporary file renamed over it (one atomic step, as a
/// careful writer does), or by truncating and writing it in place (as `cp` or an editor does).
fn write(path: &Path, text: &str, by_rename: bool) -> std::io::Result<()> {
    if by_rename {
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    } else {
        std::fs::write(path, text)
    }
}
