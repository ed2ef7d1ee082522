//! The defaults of spec §4, applied to a FailoverService spec as raw JSON.
//!
//! Defaults only fill what proto3 reads as unset (absent, `null`, `""`); they never rewrite a
//! value that was set, not even one of the wrong type, because GitOps tools would then report
//! drift forever. Applying them twice changes nothing the second time.

use json_patch::jsonptr::PointerBuf;
use serde_json::{Map, Value};

use crate::decode::slots::{PortFields, RefFields, Slot, SpecFields};
use crate::rules::names;

/// What the defaults are computed from besides the spec itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// `metadata.namespace` of the FailoverService; the default for `spec.namespace`.
    pub object_namespace: Option<&'a str>,
    /// The server's `--default-cluster`.
    pub default_cluster: Option<&'a str>,
}

/// A field's value as the defaults read it.
#[derive(Clone, Copy, Debug)]
enum Leaf<'a> {
    Absent,
    Null,
    Text(&'a str),
    /// Any other JSON value: set, but not a string.
    Other,
}

impl<'a> Leaf<'a> {
    fn of(v: Option<&'a Value>) -> Leaf<'a> {
        match v {
            None => Leaf::Absent,
            Some(Value::Null) => Leaf::Null,
            Some(Value::String(s)) => Leaf::Text(s),
            Some(_) => Leaf::Other,
        }
    }

    fn of_slot(slot: &'a Slot<String>) -> Leaf<'a> {
        match slot {
            Slot::Absent => Leaf::Absent,
            Slot::Null => Leaf::Null,
            Slot::Set(s) => Leaf::Text(s),
            Slot::Mistyped => Leaf::Other,
        }
    }

    /// What proto3 reads as unset: absent, `null`, `""`.
    fn unset(self) -> bool {
        match self {
            Leaf::Absent | Leaf::Null => true,
            Leaf::Text(s) => s.is_empty(),
            Leaf::Other => false,
        }
    }

    fn as_str(self) -> Option<&'a str> {
        match self {
            Leaf::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// An object the defaults read: the spec, its port or one of its services, as a JSON object
/// or as read apart from the text ([`crate::decode::slots`]). One planner serves both.
trait Fields {
    fn leaf(&self, key: &str) -> Leaf<'_>;
}

/// The spec object itself.
trait SpecObject: Fields {
    /// `port`, when it is an object.
    fn port(&self) -> Option<&dyn Fields>;
    /// Calls `f` with the index of every entry of `failoverServices` that is an object.
    fn each_service(&self, f: &mut dyn FnMut(usize, &dyn Fields));
}

impl Fields for Map<String, Value> {
    fn leaf(&self, key: &str) -> Leaf<'_> {
        Leaf::of(self.get(key))
    }
}

impl SpecObject for Map<String, Value> {
    fn port(&self) -> Option<&dyn Fields> {
        self.get("port")
            .and_then(Value::as_object)
            .map(|p| p as &dyn Fields)
    }

    fn each_service(&self, f: &mut dyn FnMut(usize, &dyn Fields)) {
        if let Some(services) = self.get("failoverServices").and_then(Value::as_array) {
            for (i, service) in services.iter().enumerate() {
                if let Some(service) = service.as_object() {
                    f(i, service);
                }
            }
        }
    }
}

impl Fields for SpecFields {
    fn leaf(&self, key: &str) -> Leaf<'_> {
        match key {
            "namespace" => Leaf::of_slot(&self.namespace),
            "cluster" => Leaf::of_slot(&self.cluster),
            "hostname" => Leaf::of_slot(&self.hostname),
            _ => Leaf::Absent,
        }
    }
}

impl SpecObject for SpecFields {
    fn port(&self) -> Option<&dyn Fields> {
        self.port.get().map(|p| p as &dyn Fields)
    }

    fn each_service(&self, f: &mut dyn FnMut(usize, &dyn Fields)) {
        if let Some(services) = self.failover_services.get() {
            for (i, service) in services.iter().enumerate() {
                if let Some(service) = service.get() {
                    f(i, service);
                }
            }
        }
    }
}

impl Fields for PortFields {
    fn leaf(&self, key: &str) -> Leaf<'_> {
        match key {
            "name" => Leaf::of_slot(&self.name),
            "protocol" => Leaf::of_slot(&self.protocol),
            _ => Leaf::Absent,
        }
    }
}

impl Fields for RefFields {
    fn leaf(&self, key: &str) -> Leaf<'_> {
        match key {
            "name" => Leaf::of_slot(&self.name),
            "namespace" => Leaf::of_slot(&self.namespace),
            "cluster" => Leaf::of_slot(&self.cluster),
            _ => Leaf::Absent,
        }
    }
}

/// A field of the spec a default can fill. The order is the order of the keys in the spec's
/// JSON (`cluster` < `failoverServices` < `namespace` < `port`, then within each object), so a
/// sorted plan lists its patch operations as a diff of the two specs would.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Cluster,
    Service(usize, ServiceField),
    Namespace,
    PortName,
    PortProtocol,
}

impl Field {
    /// The field's JSON pointer below `spec`. Every key is a fixed name that needs no RFC 6901
    /// escaping.
    pub fn pointer(self) -> PointerBuf {
        let mut p = PointerBuf::new();
        match self {
            Field::Cluster => p.push_back("cluster"),
            Field::Namespace => p.push_back("namespace"),
            Field::PortName | Field::PortProtocol => {
                p.push_back("port");
                p.push_back(if self == Field::PortName {
                    "name"
                } else {
                    "protocol"
                });
            }
            Field::Service(i, field) => {
                p.push_back("failoverServices");
                p.push_back(i);
                p.push_back(field.key());
            }
        }
        p
    }
}

/// A field of one of `spec.failoverServices`, in key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServiceField {
    Cluster,
    Namespace,
}

impl ServiceField {
    fn key(self) -> &'static str {
        match self {
            ServiceField::Cluster => "cluster",
            ServiceField::Namespace => "namespace",
        }
    }
}

/// One default that applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fill {
    pub field: Field,
    pub value: String,
    /// The field is present (`null` or `""`) and is replaced, rather than added.
    pub replaces: bool,
}

/// The defaults that apply to one spec, worked out without touching it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to fill.
    #[default]
    Nothing,
    /// The spec is absent or `null` and becomes this object.
    Create(Map<String, Value>),
    /// Fields of an existing spec object, in key order.
    Fill(Vec<Fill>),
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        match self {
            Plan::Nothing => true,
            Plan::Create(_) => false,
            Plan::Fill(fills) => fills.is_empty(),
        }
    }

    /// Applies the plan to the spec it was made for.
    pub fn apply_to(&self, spec: &mut Value) {
        match self {
            Plan::Nothing => {}
            Plan::Create(fresh) => *spec = Value::Object(fresh.clone()),
            Plan::Fill(fills) => {
                for fill in fills {
                    if let Some(slot) = slot(spec, fill.field) {
                        *slot = Value::String(fill.value.clone());
                    }
                }
            }
        }
    }
}

impl Plan {
    /// Applies the plan to the spec read apart ([`crate::decode::slots`]) it was made for.
    pub fn apply_to_slots(&self, spec: &mut Slot<SpecFields>) {
        match self {
            Plan::Nothing => {}
            Plan::Create(fresh) => {
                let text = |key| match fresh.get(key) {
                    Some(Value::String(s)) => Slot::Set(s.clone()),
                    _ => Slot::Absent,
                };
                *spec = Slot::Set(SpecFields {
                    namespace: text("namespace"),
                    cluster: text("cluster"),
                    ..SpecFields::default()
                });
            }
            Plan::Fill(fills) => {
                let Some(spec) = spec.get_mut() else { return };
                for fill in fills {
                    let slot = match fill.field {
                        Field::Cluster => Some(&mut spec.cluster),
                        Field::Namespace => Some(&mut spec.namespace),
                        Field::PortName => spec.port.get_mut().map(|p| &mut p.name),
                        Field::PortProtocol => spec.port.get_mut().map(|p| &mut p.protocol),
                        Field::Service(i, field) => spec
                            .failover_services
                            .get_mut()
                            .and_then(|s| s.get_mut(i))
                            .and_then(Slot::get_mut)
                            .map(|r| match field {
                                ServiceField::Cluster => &mut r.cluster,
                                ServiceField::Namespace => &mut r.namespace,
                            }),
                    };
                    if let Some(slot) = slot {
                        *slot = Slot::Set(fill.value.clone());
                    }
                }
            }
        }
    }
}

/// Where `field` lives in `spec`, created as a key when absent (its parent exists: a plan only
/// names fields of objects that are there).
fn slot(spec: &mut Value, field: Field) -> Option<&mut Value> {
    let (parent, key) = match field {
        Field::Cluster => (Some(spec), "cluster"),
        Field::Namespace => (Some(spec), "namespace"),
        Field::PortName => (spec.get_mut("port"), "name"),
        Field::PortProtocol => (spec.get_mut("port"), "protocol"),
        Field::Service(i, field) => (service_mut(spec, i), field.key()),
    };
    Some(parent?.as_object_mut()?.entry(key).or_insert(Value::Null))
}

fn service_mut(spec: &mut Value, i: usize) -> Option<&mut Value> {
    spec.get_mut("failoverServices")?.get_mut(i)
}

/// The value a default gives an unset field, if any: what [`fill`]ing it would write.
fn fill_value<'v>(map: &dyn Fields, key: &str, value: Option<&'v str>) -> Option<&'v str> {
    value.filter(|v| !v.is_empty() && map.leaf(key).unset())
}

/// The value a field has once its default is applied, as a string if it is one.
fn after<'v>(map: &'v dyn Fields, key: &str, default: Option<&'v str>) -> Option<&'v str> {
    fill_value(map, key, default).or_else(|| map.leaf(key).as_str())
}

/// The defaults that apply to `spec` (the value of the object's `spec` key, `None` when
/// absent). A missing spec becomes an object when there is something to fill; a spec of the
/// wrong type is left alone. Applying the plan, then planning again, gives no plan.
pub fn plan(spec: Option<&Value>, ctx: Context<'_>) -> Plan {
    match spec {
        None | Some(Value::Null) => create(ctx),
        Some(Value::Object(map)) => fill(map, ctx),
        Some(_) => Plan::Nothing,
    }
}

/// [`plan`] for a spec read apart from the text: the same plan for the same spec.
pub fn plan_slots(spec: &Slot<SpecFields>, ctx: Context<'_>) -> Plan {
    match spec {
        Slot::Absent | Slot::Null => create(ctx),
        Slot::Set(fields) => fill(fields, ctx),
        Slot::Mistyped => Plan::Nothing,
    }
}

/// The plan for a missing spec.
fn create(ctx: Context<'_>) -> Plan {
    let mut fresh = Map::new();
    for (key, value) in [
        ("namespace", ctx.object_namespace),
        ("cluster", ctx.default_cluster),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            fresh.insert(key.to_owned(), Value::String(v.to_owned()));
        }
    }
    if fresh.is_empty() {
        Plan::Nothing
    } else {
        Plan::Create(fresh)
    }
}

/// The plan for a spec object.
fn fill(map: &dyn SpecObject, ctx: Context<'_>) -> Plan {
    let mut fills = Vec::new();
    let mut push = |map: &dyn Fields, field: Field, key: &str, value: Option<&str>| {
        if let Some(v) = fill_value(map, key, value) {
            fills.push(Fill {
                field,
                value: v.to_owned(),
                replaces: !matches!(map.leaf(key), Leaf::Absent),
            });
        }
    };
    push(map, Field::Namespace, "namespace", ctx.object_namespace);
    push(map, Field::Cluster, "cluster", ctx.default_cluster);
    if let Some(port) = map.port() {
        let protocol = port_protocol(port);
        push(port, Field::PortProtocol, "protocol", protocol);
        let name = port_name(port, after(port, "protocol", protocol));
        push(port, Field::PortName, "name", name.as_deref());
    }
    // The services inherit the spec's values as they are once defaulted.
    let namespace = after(map, "namespace", ctx.object_namespace);
    let cluster = after(map, "cluster", ctx.default_cluster);
    map.each_service(&mut |i, service| {
        let (ns, cl) = (ServiceField::Namespace, ServiceField::Cluster);
        push(service, Field::Service(i, ns), ns.key(), namespace);
        push(service, Field::Service(i, cl), cl.key(), cluster);
    });
    fills.sort_by_key(|f| f.field);
    Plan::Fill(fills)
}

/// Applies the defaults to `spec` (the value of the object's `spec` key, `Null` when absent).
pub fn apply(spec: &mut Value, ctx: Context<'_>) {
    let plan = plan(Some(&*spec), ctx);
    plan.apply_to(spec);
}

/// Istio's port naming convention, `<protocol>[-<suffix>]`, both ways: the protocol from the
/// name, then the name from the protocol.
fn port_protocol(port: &dyn Fields) -> Option<&'static str> {
    if !port.leaf("protocol").unset() {
        return None;
    }
    let name = port.leaf("name").as_str()?;
    names::protocol(name).or_else(|| {
        name.split_once('-')
            .and_then(|(prefix, _)| names::protocol(prefix))
    })
}

/// The port name derived from `protocol` (the port's protocol once defaulted), when the name is
/// unset.
fn port_name(port: &dyn Fields, protocol: Option<&str>) -> Option<String> {
    if !port.leaf("name").unset() {
        return None;
    }
    names::protocol(protocol?).map(|p| p.replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaulted(mut spec: Value, ctx: Context<'_>) -> Value {
        apply(&mut spec, ctx);
        spec
    }

    const CTX: Context<'static> = Context {
        object_namespace: Some("team-a"),
        default_cluster: Some("mgmt-cluster"),
    };

    #[test]
    fn fills_namespace_and_cluster_down_to_every_service() {
        let spec = json!({"failoverServices": [{"name": "a"}, {"name": "b", "namespace": "x", "cluster": "c2"}]});
        assert_eq!(
            defaulted(spec, CTX),
            json!({
                "namespace": "team-a",
                "cluster": "mgmt-cluster",
                "failoverServices": [
                    {"name": "a", "namespace": "team-a", "cluster": "mgmt-cluster"},
                    {"name": "b", "namespace": "x", "cluster": "c2"}
                ]
            })
        );
    }

    #[test]
    fn services_inherit_the_spec_values_the_user_set() {
        let spec = json!({"namespace": "shop", "cluster": "remote", "failoverServices": [{"name": "a", "namespace": ""}]});
        assert_eq!(
            defaulted(spec, CTX)["failoverServices"][0],
            json!({"name": "a", "namespace": "shop", "cluster": "remote"})
        );
    }

    #[test]
    fn no_default_cluster_without_the_setting() {
        let spec = defaulted(
            json!({}),
            Context {
                object_namespace: Some("ns"),
                default_cluster: None,
            },
        );
        assert_eq!(spec, json!({"namespace": "ns"}));
    }

    #[test]
    fn protocol_from_port_name_by_istio_convention() {
        for (name, protocol) in [
            ("grpc-web", Some("grpc-web")),
            ("http-api", Some("http")),
            ("tcp-db", Some("tcp")),
            ("HTTP", Some("http")),
            ("http1", None),
            ("web", None),
        ] {
            let spec = defaulted(json!({"port": {"port": 80, "name": name}}), CTX);
            assert_eq!(
                spec["port"].get("protocol").and_then(Value::as_str),
                protocol,
                "{name}"
            );
        }
    }

    #[test]
    fn port_name_from_protocol() {
        for (protocol, name) in [
            ("tcp", "tcp"),
            ("UDP", "udp"),
            ("grpc", "grpc"),
            ("grpc-web", "grpc-web"),
            ("HTTP", "http"),
            ("http_proxy", "http-proxy"),
            ("Http2", "http2"),
            ("https", "https"),
            ("TLS", "tls"),
            ("mongo", "mongo"),
            ("redis", "redis"),
            ("MySQL", "mysql"),
        ] {
            let spec = defaulted(json!({"port": {"port": 80, "protocol": protocol}}), CTX);
            assert_eq!(spec["port"]["name"], json!(name), "{protocol}");
            assert_eq!(
                spec["port"]["protocol"],
                json!(protocol),
                "the protocol is kept as written"
            );
        }
        let unknown = defaulted(json!({"port": {"port": 80, "protocol": "sctp"}}), CTX);
        assert_eq!(unknown["port"].get("name"), None);
    }

    #[test]
    fn never_rewrites_a_set_value_even_of_the_wrong_type() {
        let spec = json!({"namespace": 5, "cluster": ["x"], "port": {"name": 8080}, "failoverServices": [7, {"name": "a"}]});
        let out = defaulted(spec.clone(), CTX);
        assert_eq!(out["namespace"], json!(5));
        assert_eq!(out["cluster"], json!(["x"]));
        assert_eq!(out["port"], json!({"name": 8080}));
        assert_eq!(out["failoverServices"][0], json!(7));
        // Neither spec.namespace nor spec.cluster is a string, so the services get nothing.
        assert_eq!(out["failoverServices"][1], json!({"name": "a"}));
    }

    #[test]
    fn a_missing_spec_is_created_only_when_something_fills_it() {
        assert_eq!(
            defaulted(Value::Null, CTX),
            json!({"namespace": "team-a", "cluster": "mgmt-cluster"})
        );
        assert_eq!(defaulted(Value::Null, Context::default()), Value::Null);
        assert_eq!(defaulted(json!("text"), CTX), json!("text"));
    }
}
