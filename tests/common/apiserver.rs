//! A fake Kubernetes API server for the topology watchers: HTTPS (a certificate from the test
//! PKI), paged lists with `resourceVersion` and `continue`, chunked watch streams with
//! `ADDED`/`MODIFIED`/`DELETED`/`BOOKMARK`, `410 Gone` for a resource version older than its
//! history, 404 for a resource whose CRD is "not installed", and injectable 500s. A kubeconfig
//! pointing at it drives kube's real client stack.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::pki::Pki;

#[path = "apiserver_writes.rs"]
mod writes;

/// Lists answer at most this many items per page, whatever `limit` asks, so that every list
/// of more than two objects is paged.
pub const PAGE: usize = 2;

type Body = BoxBody<Bytes, Infallible>;

#[derive(Default)]
struct State {
    rv: u64,
    /// plural → "namespace/name" → object.
    objects: HashMap<String, BTreeMap<String, Value>>,
    /// (resourceVersion, plural, event type, object).
    history: Vec<(u64, String, &'static str, Value)>,
    /// Watches from a resourceVersion below this are answered `410 Gone`.
    oldest: u64,
    missing: HashSet<String>,
    fail_lists: usize,
    fail_watches: usize,
    /// Bumped to end every open watch stream.
    generation: u64,
    lists: HashMap<String, usize>,
    pages: usize,
    /// Items per page at most (`PAGE` unless changed).
    page: usize,
    watches: HashMap<String, usize>,
    /// Status patches, Leases and Events.
    writes: writes::Writes,
    /// List pages rendered ahead by [`FakeApi::prerender`], dropped when any object changes:
    /// (plural, offset) → body.
    rendered: Option<HashMap<(String, usize), Bytes>>,
}

/// The fake API server; stops when dropped.
pub struct FakeApi {
    state: Arc<Mutex<State>>,
    changed: watch::Sender<u64>,
    pub addr: SocketAddr,
    pub kubeconfig: PathBuf,
    _dir: TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn plural_of(kind: &str) -> String {
    match kind {
        "KubernetesCluster" => "kubernetesclusters",
        "MeshService" => "meshservices",
        "Mesh" => "meshes",
        "VirtualMesh" => "virtualmeshes",
        "FailoverService" => "failoverservices",
        other => panic!("not a topology kind: {other}"),
    }
    .to_owned()
}

fn object_key(obj: &Value) -> String {
    format!(
        "{}/{}",
        obj.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(""),
        obj.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap()
    )
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn full(code: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap()
}

impl FakeApi {
    pub async fn start() -> FakeApi {
        let pki = Pki::new("fake API server CA");
        let serving = pki.server("apiserver");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(serving.cert_pem.as_bytes())
                .map(Result::unwrap)
                .collect();
        let key = PrivateKeyDer::from_pem_slice(serving.key_pem.as_bytes()).unwrap();
        let mut tls =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(tls));

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let ca = base64::engine::general_purpose::STANDARD.encode(&pki.ca_pem);
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\n\
                 clusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority-data: {ca}\n\
                 users:\n- name: fake\n  user:\n    token: test-token\n\
                 contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n\
                 current-context: fake\n",
                addr.port()
            ),
        )
        .unwrap();

        let state = Arc::new(Mutex::new(State {
            rv: 1,
            page: PAGE,
            ..State::default()
        }));
        let (changed, _) = watch::channel(0);
        let task = {
            let state = state.clone();
            let changed = changed.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let acceptor = acceptor.clone();
                    let state = state.clone();
                    let changed = changed.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                            let state = state.clone();
                            let notify = changed.clone();
                            let changed = changed.subscribe();
                            async move {
                                if req.method() == http::Method::GET
                                    && !writes::is_write_path(req.uri().path())
                                {
                                    return Ok::<_, Infallible>(handle(req, state, changed));
                                }
                                Ok(writes::handle(req, state, notify).await)
                            }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    });
                }
            })
        };
        FakeApi {
            state,
            changed,
            addr,
            kubeconfig,
            _dir: dir,
            task,
        }
    }

    /// A kube client for the fake server, through its kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    }

    fn mutate(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap());
        self.changed.send_modify(|n| *n += 1);
    }

    fn record(state: &mut State, plural: &str, kind: &'static str, obj: &Value) {
        state
            .history
            .push((state.rv, plural.to_owned(), kind, obj.clone()));
    }

    /// Creates or replaces an object (an `ADDED` or `MODIFIED` event).
    pub fn apply(&self, obj: Value) {
        self.mutate(|s| Self::apply_in(s, obj, true));
    }

    fn apply_in(s: &mut State, mut obj: Value, record: bool) {
        let plural = plural_of(obj["kind"].as_str().unwrap());
        s.rendered = None;
        s.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
        let key = object_key(&obj);
        let store = s.objects.entry(plural.clone()).or_default();
        let event = if store.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        store.insert(key, obj.clone());
        if record {
            Self::record(s, &plural, event, &obj);
        }
    }

    /// Deletes an object (a `DELETED` event).
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) {
        self.mutate(|s| {
            let plural = plural_of(kind);
            let Some(mut obj) = s
                .objects
                .get_mut(&plural)
                .and_then(|m| m.remove(&format!("{namespace}/{name}")))
            else {
                return;
            };
            s.rendered = None;
            s.rv += 1;
            obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
            Self::record(s, &plural, "DELETED", &obj);
        });
    }

    /// Sends a `BOOKMARK` with the current resource version on every open watch.
    pub fn bookmark(&self) {
        self.mutate(|s| {
            s.rv += 1;
            for kind in [
                "KubernetesCluster",
                "MeshService",
                "Mesh",
                "VirtualMesh",
                "FailoverService",
            ] {
                let plural = plural_of(kind);
                let group = if matches!(kind, "VirtualMesh" | "FailoverService") {
                    "networking.smh.solo.io"
                } else {
                    "discovery.smh.solo.io"
                };
                let obj = json!({"kind": kind, "apiVersion": format!("{group}/v1alpha1"),
                                 "metadata": {"resourceVersion": s.rv.to_string()}});
                Self::record(s, &plural, "BOOKMARK", &obj);
            }
        });
    }

    /// Compacts the history past `changes` (applied without events, as if they happened while
    /// the watch was away) and ends every watch: resuming answers `410 Gone`, and only a
    /// re-list sees the changes.
    pub fn compact_after(&self, changes: Vec<Value>) {
        self.mutate(|s| {
            for obj in changes {
                Self::apply_in(s, obj, false);
            }
            s.oldest = s.rv + 1;
            s.rv += 1;
            s.generation += 1;
        });
    }

    /// Ends every open watch stream.
    pub fn break_watches(&self) {
        self.mutate(|s| s.generation += 1);
    }

    /// Whether the resource of `kind` answers 404 (its CRD not installed).
    pub fn set_missing(&self, kind: &str, missing: bool) {
        let plural = plural_of(kind);
        self.mutate(|s| {
            if missing {
                s.missing.insert(plural);
            } else {
                s.missing.remove(&plural);
            }
        });
    }

    /// Serves pages of at most `page` items.
    pub fn set_page(&self, page: usize) {
        self.mutate(|s| s.page = page);
    }

    /// Adds many objects at once, without watch events (as if they existed before any
    /// watch); for scale measurements.
    pub fn preload(&self, objects: impl IntoIterator<Item = Value>) {
        self.mutate(|s| {
            for obj in objects {
                Self::apply_in(s, obj, false);
            }
        });
    }

    /// Renders every list page of the objects held now, so that lists answer from memory
    /// until anything changes, as the API server's watch cache does. For scale measurements:
    /// the time to build 100,000 objects' JSON on the same cores would otherwise be counted
    /// against the client that lists them.
    pub fn prerender(&self) {
        self.mutate(|s| {
            let mut pages = HashMap::new();
            for (plural, store) in &s.objects {
                let items: Vec<&Value> = store.values().collect();
                let mut offset = 0;
                for chunk in items.chunks(s.page.max(1)) {
                    let next = offset + chunk.len();
                    let body = list_body(s.rv, chunk.iter().copied(), next, items.len());
                    pages.insert((plural.clone(), offset), Bytes::from(body.to_string()));
                    offset = next;
                }
            }
            s.rendered = Some(pages);
        });
    }

    /// The next `n` list requests answer 500.
    pub fn fail_lists(&self, n: usize) {
        self.mutate(|s| s.fail_lists = n);
    }

    /// The next `n` watch requests answer 500.
    pub fn fail_watches(&self, n: usize) {
        self.mutate(|s| s.fail_watches = n);
    }

    /// List requests served (all pages) for `kind`.
    pub fn lists(&self, kind: &str) -> usize {
        let s = self.state.lock().unwrap();
        s.lists.get(&plural_of(kind)).copied().unwrap_or(0)
    }

    /// List pages served with a `continue` token (second pages and later).
    pub fn continued_pages(&self) -> usize {
        self.state.lock().unwrap().pages
    }

    /// Watch requests started for `kind`.
    pub fn watches(&self, kind: &str) -> usize {
        let s = self.state.lock().unwrap();
        s.watches.get(&plural_of(kind)).copied().unwrap_or(0)
    }
}

fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    changed: watch::Receiver<u64>,
) -> Response<Body> {
    let path: Vec<String> = req.uri().path().split('/').map(str::to_owned).collect();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url_pairs(q)
                .into_iter()
                .collect::<HashMap<String, String>>()
        })
        .unwrap_or_default();
    // ["", "apis", group, version, plural]
    let Some(plural) = path.get(4).filter(|_| path.len() == 5 && path[1] == "apis") else {
        return full(
            StatusCode::NOT_FOUND,
            &status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        );
    };
    let plural = plural.clone();
    let mut s = state.lock().unwrap();
    if s.missing.contains(&plural) {
        return full(
            StatusCode::NOT_FOUND,
            &status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        );
    }
    if query.get("watch").is_some_and(|w| w == "true" || w == "1") {
        *s.watches.entry(plural.clone()).or_default() += 1;
        if s.fail_watches > 0 {
            s.fail_watches -= 1;
            return full(
                StatusCode::INTERNAL_SERVER_ERROR,
                &status(500, "InternalError", "injected watch failure"),
            );
        }
        let from: u64 = query
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if from < s.oldest {
            // As the API server does: a 200 with one ERROR event carrying the 410.
            let line = json!({"type": "ERROR", "object": status(410, "Expired", "too old resource version")});
            return Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(format!("{line}\n"))).boxed())
                .unwrap();
        }
        let generation = s.generation;
        drop(s);
        return watch_stream(state, changed, plural, from, generation);
    }
    *s.lists.entry(plural.clone()).or_default() += 1;
    if s.fail_lists > 0 {
        s.fail_lists -= 1;
        return full(
            StatusCode::INTERNAL_SERVER_ERROR,
            &status(500, "InternalError", "injected list failure"),
        );
    }
    let offset: usize = match query.get("continue") {
        Some(token) => {
            s.pages += 1;
            token.parse().unwrap_or(0)
        }
        None => 0,
    };
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let size = limit.min(s.page);
    if size == s.page
        && let Some(pages) = &s.rendered
        && let Some(body) = pages.get(&(plural.clone(), offset))
    {
        return Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Full::new(body.clone()).boxed())
            .unwrap();
    }
    let store = s.objects.get(&plural);
    let total = store.map_or(0, BTreeMap::len);
    let items: Vec<&Value> = store
        .map(|m| m.values().skip(offset).take(size).collect())
        .unwrap_or_default();
    let next = offset + items.len();
    full(
        StatusCode::OK,
        &list_body(s.rv, items.into_iter(), next, total),
    )
}

/// One page of a list: `items`, and a `continue` token when objects remain after `next`.
fn list_body<'a>(
    rv: u64,
    items: impl Iterator<Item = &'a Value>,
    next: usize,
    total: usize,
) -> Value {
    let items: Vec<&Value> = items.collect();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if next < total {
        metadata["continue"] = json!(next.to_string());
    }
    json!({"apiVersion": "v1", "kind": "List", "metadata": metadata, "items": items})
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A chunked stream of watch events after `from`, one JSON object per line, until the
/// watches are broken.
fn watch_stream(
    state: Arc<Mutex<State>>,
    changed: watch::Receiver<u64>,
    plural: String,
    from: u64,
    generation: u64,
) -> Response<Body> {
    let stream = futures::stream::unfold(
        (state, changed, from, false),
        move |(state, mut changed, mut cursor, done)| {
            let plural = plural.clone();
            async move {
                if done {
                    return None;
                }
                loop {
                    let (lines, ended) = {
                        let s = state.lock().unwrap();
                        let mut lines = String::new();
                        for (rv, p, kind, obj) in &s.history {
                            if *rv > cursor && *p == plural {
                                lines.push_str(&json!({"type": kind, "object": obj}).to_string());
                                lines.push('\n');
                            }
                        }
                        if let Some(last) = s.history.last() {
                            cursor = cursor.max(last.0);
                        }
                        (lines, s.generation != generation)
                    };
                    if !lines.is_empty() {
                        return Some((
                            Ok::<_, Infallible>(Frame::data(Bytes::from(lines))),
                            (state, changed, cursor, ended),
                        ));
                    }
                    if ended || changed.changed().await.is_err() {
                        return None;
                    }
                }
            }
        },
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap()
}
