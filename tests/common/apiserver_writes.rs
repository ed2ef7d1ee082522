//! The writes of the fake API server: `PATCH …/{plural}/{name}/status` (a JSON merge patch
//! into `status` only, guarded by `metadata.resourceVersion` when given, with injectable
//! `409 Conflict`s and `500`s), `coordination.k8s.io/v1` Leases (get, create, update, and the
//! server-side-apply and strategic-merge patches the lease manager sends, an apply that takes
//! `holderIdentity` from another holder being a conflict), and `events.k8s.io/v1` Events
//! (recorded and echoed).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::{Body, FakeApi, State, full, status, url_pairs};

/// One accepted status patch.
#[derive(Clone, Debug)]
pub struct StatusWrite {
    /// `namespace/name`.
    pub object: String,
    pub field_manager: Option<String>,
    pub patch: Value,
}

#[derive(Default)]
pub(super) struct Writes {
    status: Vec<StatusWrite>,
    conflicts_to_inject: usize,
    conflicts_sent: usize,
    failures_to_inject: usize,
    /// "namespace/name" → Lease.
    leases: BTreeMap<String, Value>,
    /// Field managers whose Lease writes answer 500 (a replica cut off from the API server).
    frozen: HashSet<String>,
    events: Vec<Value>,
}

/// Paths served here even for GET: Leases.
pub(super) fn is_write_path(path: &str) -> bool {
    path.starts_with("/apis/coordination.k8s.io/")
}

fn not_found() -> Response<Body> {
    full(StatusCode::NOT_FOUND, &status(404, "NotFound", "not found"))
}

fn conflict(message: &str) -> Response<Body> {
    full(StatusCode::CONFLICT, &status(409, "Conflict", message))
}

pub(super) async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    notify: watch::Sender<u64>,
) -> Response<Body> {
    let method = req.method().clone();
    let path: Vec<String> = req.uri().path().split('/').map(str::to_owned).collect();
    let query: Vec<(String, String)> = req.uri().query().map(url_pairs).unwrap_or_default();
    let field_manager = query
        .iter()
        .find(|(k, _)| k == "fieldManager")
        .map(|(_, v)| v.clone());
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return full(StatusCode::BAD_REQUEST, &status(400, "BadRequest", "body")),
    };
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return full(
                    StatusCode::BAD_REQUEST,
                    &status(400, "BadRequest", &e.to_string()),
                );
            }
        }
    };
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let response = match p.as_slice() {
        ["", "apis", _, _, "namespaces", ns, plural, name, "status"] if method == Method::PATCH => {
            patch_status(&state, ns, plural, name, field_manager, body)
        }
        [
            "",
            "apis",
            "coordination.k8s.io",
            "v1",
            "namespaces",
            ns,
            "leases",
            rest @ ..,
        ] => lease(
            &state,
            &method,
            ns,
            rest.first().copied(),
            field_manager,
            body,
        ),
        [
            "",
            "apis",
            "events.k8s.io",
            "v1",
            "namespaces",
            _,
            "events",
            ..,
        ] => {
            state.lock().unwrap().writes.events.push(body.clone());
            full(StatusCode::CREATED, &body)
        }
        _ => not_found(),
    };
    notify.send_modify(|n| *n += 1);
    response
}

fn patch_status(
    state: &Mutex<State>,
    ns: &str,
    plural: &str,
    name: &str,
    field_manager: Option<String>,
    patch: Value,
) -> Response<Body> {
    let mut s = state.lock().unwrap();
    if s.writes.failures_to_inject > 0 {
        s.writes.failures_to_inject -= 1;
        return full(
            StatusCode::INTERNAL_SERVER_ERROR,
            &status(500, "InternalError", "injected status write failure"),
        );
    }
    if s.writes.conflicts_to_inject > 0 {
        s.writes.conflicts_to_inject -= 1;
        s.writes.conflicts_sent += 1;
        return conflict("injected conflict");
    }
    let key = format!("{ns}/{name}");
    let rv = s.rv + 1;
    s.rendered = None;
    let Some(stored) = s.objects.get_mut(plural).and_then(|m| m.get_mut(&key)) else {
        return not_found();
    };
    if let Some(want) = patch
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        && stored
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            != Some(want)
    {
        return conflict("the object has been modified");
    }
    // The status subresource: everything but `status` in the patch is ignored.
    let mut st = stored.get("status").cloned().unwrap_or(json!({}));
    json_patch::merge(&mut st, patch.get("status").unwrap_or(&Value::Null));
    stored["status"] = st;
    stored["metadata"]["resourceVersion"] = json!(rv.to_string());
    let updated = stored.clone();
    s.rv = rv;
    FakeApi::record(&mut s, plural, "MODIFIED", &updated);
    s.writes.status.push(StatusWrite {
        object: key,
        field_manager,
        patch,
    });
    full(StatusCode::OK, &updated)
}

fn lease(
    state: &Mutex<State>,
    method: &Method,
    ns: &str,
    name: Option<&str>,
    field_manager: Option<String>,
    body: Value,
) -> Response<Body> {
    let mut s = state.lock().unwrap();
    if method != Method::GET
        && field_manager
            .as_ref()
            .is_some_and(|m| s.writes.frozen.contains(m))
    {
        return full(
            StatusCode::INTERNAL_SERVER_ERROR,
            &status(500, "InternalError", "injected lease failure"),
        );
    }
    s.rv += 1;
    let rv = s.rv.to_string();
    let leases = &mut s.writes.leases;
    match (method.clone(), name) {
        (Method::POST, None) => {
            let name = body
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let key = format!("{ns}/{name}");
            if leases.contains_key(&key) {
                return full(
                    StatusCode::CONFLICT,
                    &status(409, "AlreadyExists", "lease exists"),
                );
            }
            let mut lease = body.clone();
            lease["metadata"]["namespace"] = json!(ns);
            lease["metadata"]["resourceVersion"] = json!(rv);
            leases.insert(key, lease.clone());
            full(StatusCode::CREATED, &lease)
        }
        (m, Some(name)) => {
            let key = format!("{ns}/{name}");
            let Some(stored) = leases.get_mut(&key) else {
                return not_found();
            };
            if m == Method::GET {
                return full(StatusCode::OK, stored);
            }
            if m == Method::PUT {
                if body.pointer("/metadata/resourceVersion")
                    != stored.pointer("/metadata/resourceVersion")
                {
                    return conflict("the lease has been modified");
                }
                *stored = body;
            } else if m == Method::PATCH {
                let holder = stored
                    .pointer("/spec/holderIdentity")
                    .and_then(Value::as_str);
                let claims = body.pointer("/spec/holderIdentity").and_then(Value::as_str);
                // Server-side apply: `holderIdentity` is owned by the holder that set it.
                if let (Some(holder), Some(claims)) = (holder, claims)
                    && holder != claims
                {
                    return conflict("holderIdentity is owned by another manager");
                }
                json_patch::merge(stored, &body);
            } else {
                return not_found();
            }
            stored["metadata"]["resourceVersion"] = json!(rv);
            full(StatusCode::OK, stored)
        }
        _ => not_found(),
    }
}

impl FakeApi {
    /// Every accepted status patch so far.
    pub fn status_writes(&self) -> Vec<StatusWrite> {
        self.state.lock().unwrap().writes.status.clone()
    }

    /// The next `n` status patches answer `409 Conflict`.
    pub fn conflict_status_writes(&self, n: usize) {
        self.state.lock().unwrap().writes.conflicts_to_inject = n;
    }

    /// The next `n` status patches answer `500 Internal Server Error`.
    pub fn fail_status_writes(&self, n: usize) {
        self.state.lock().unwrap().writes.failures_to_inject = n;
    }

    /// Conflicts injected and sent so far.
    pub fn conflicts_sent(&self) -> usize {
        self.state.lock().unwrap().writes.conflicts_sent
    }

    /// The Lease's current holder.
    pub fn lease_holder(&self, namespace: &str, name: &str) -> Option<String> {
        let s = self.state.lock().unwrap();
        s.writes
            .leases
            .get(&format!("{namespace}/{name}"))
            .and_then(|l| l.pointer("/spec/holderIdentity"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// Lease writes by `field_manager` answer 500 from now on: its holder can no longer renew.
    pub fn freeze_lease_writes(&self, field_manager: &str) {
        let mut s = self.state.lock().unwrap();
        s.writes.frozen.insert(field_manager.to_owned());
    }

    /// Events recorded so far.
    pub fn events(&self) -> Vec<Value> {
        self.state.lock().unwrap().writes.events.clone()
    }

    /// An object as stored.
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let s = self.state.lock().unwrap();
        s.objects
            .get(&super::plural_of(kind))
            .and_then(|m| m.get(&format!("{namespace}/{name}")))
            .cloned()
    }
}
