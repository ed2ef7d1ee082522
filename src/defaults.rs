//! The defaults of spec §4, applied to a FailoverService spec as raw JSON.
//!
//! Defaults only fill what proto3 reads as unset (absent, `null`, `""`); they never rewrite a
//! value that was set, not even one of the wrong type, because GitOps tools would then report
//! drift forever. Applying them twice changes nothing the second time.

use serde_json::{Map, Value};

use crate::rules::names;

/// What the defaults are computed from besides the spec itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// `metadata.namespace` of the FailoverService; the default for `spec.namespace`.
    pub object_namespace: Option<&'a str>,
    /// The server's `--default-cluster`.
    pub default_cluster: Option<&'a str>,
}

/// Whether a spec value counts as unset.
fn unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    }
}

fn fill(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty())
        && unset(map.get(key))
    {
        map.insert(key.to_owned(), Value::String(v.to_owned()));
    }
}

/// Applies the defaults to `spec` (the value of the object's `spec` key, `Null` when absent).
/// A missing spec becomes an object when there is something to fill; a spec of the wrong type
/// is left alone.
pub fn apply(spec: &mut Value, ctx: Context<'_>) {
    if spec.is_null() {
        let mut fresh = Value::Object(Map::new());
        apply(&mut fresh, ctx);
        if fresh.as_object().is_some_and(|m| !m.is_empty()) {
            *spec = fresh;
        }
        return;
    }
    let Some(spec) = spec.as_object_mut() else {
        return;
    };
    fill(spec, "namespace", ctx.object_namespace);
    fill(spec, "cluster", ctx.default_cluster);
    if let Some(port) = spec.get_mut("port").and_then(Value::as_object_mut) {
        port_defaults(port);
    }
    let namespace = spec
        .get("namespace")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let cluster = spec
        .get("cluster")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(services) = spec
        .get_mut("failoverServices")
        .and_then(Value::as_array_mut)
    {
        for service in services.iter_mut().filter_map(Value::as_object_mut) {
            fill(service, "namespace", namespace.as_deref());
            fill(service, "cluster", cluster.as_deref());
        }
    }
}

/// Istio's port naming convention, `<protocol>[-<suffix>]`, both ways: the protocol from the
/// name, then the name from the protocol.
fn port_defaults(port: &mut Map<String, Value>) {
    if unset(port.get("protocol"))
        && let Some(name) = port.get("name").and_then(Value::as_str)
    {
        let from_name = names::protocol(name).or_else(|| {
            name.split_once('-')
                .and_then(|(prefix, _)| names::protocol(prefix))
        });
        fill(port, "protocol", from_name);
    }
    if unset(port.get("name"))
        && let Some(protocol) = port
            .get("protocol")
            .and_then(Value::as_str)
            .and_then(names::protocol)
    {
        let name = protocol.replace('_', "-");
        fill(port, "name", Some(&name));
    }
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
