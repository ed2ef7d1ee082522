//! The resource type the watchers decode list pages and watch events into: each object goes
//! straight from the response's JSON to the index's typed, skipping view
//! ([`crate::topology::decode`], the snapshot files' decode too), with no generic tree between.
//!
//! Its decode never fails on an object of the wrong shape: kube decodes a whole list page at
//! once, and one malformed object must not fail its page (the kind would never sync). The
//! object's JSON text is delimited first (a byte scan, borrowed from the response), then
//! decoded; a wrong shape becomes [`WatchedObject::decoded`]'s error, which the writer logs
//! and counts. Only text that is not JSON at all fails, as it fails any client.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

use kube::api::{ApiResource, ObjectMeta};
use kube::core::{DynamicResourceScope, Resource};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::api::{Kind, ObjectRef};
use crate::topology::{TopologyError, TopologyObject, decode};

/// One watched object, whatever its kind: what the writer applies.
#[derive(Clone, Debug)]
pub struct WatchedObject {
    /// Name, namespace and resource version only (the watcher resumes from the version).
    pub metadata: ObjectMeta,
    /// The object as the index keeps it, or why it could not be read.
    pub decoded: Result<TopologyObject, Arc<TopologyError>>,
}

impl WatchedObject {
    /// Decodes one object of `kind` from its JSON text; never fails.
    pub fn from_json(kind: Kind, text: &str) -> WatchedObject {
        let metadata = read_metadata(text);
        let decoded = decode::decode_from(kind, &mut serde_json::Deserializer::from_str(text))
            .map_err(|source| {
                Arc::new(TopologyError::Malformed {
                    kind,
                    name: display_name(&metadata),
                    source,
                })
            });
        WatchedObject { metadata, decoded }
    }

    /// The object's namespace and name (empty when absent), as the index keys it.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            name: self.metadata.name.clone().unwrap_or_default(),
            namespace: self.metadata.namespace.clone().unwrap_or_default(),
        }
    }
}

fn display_name(meta: &ObjectMeta) -> String {
    match (&meta.namespace, &meta.name) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n.clone(),
        _ => "(unnamed)".to_owned(),
    }
}

/// The object's `metadata`, read without scanning what follows it (the API server writes it
/// before `spec` and `status`); a missing or malformed `metadata` reads as empty.
fn read_metadata(text: &str) -> ObjectMeta {
    struct UpToMetadata<'a>(&'a mut Option<MetaView>);

    impl<'de> Visitor<'de> for UpToMetadata<'_> {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<Text<'de>>()? {
                if &*key == "metadata" {
                    *self.0 = map.next_value::<Option<MetaView>>()?;
                    return Ok(());
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }

    let mut meta = None;
    // Stopping early makes the deserializer report the unread rest as an error: expected,
    // and the metadata has been read by then.
    let _ = serde_json::Deserializer::from_str(text).deserialize_map(UpToMetadata(&mut meta));
    meta.map(MetaView::into_meta).unwrap_or_default()
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaView {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    resource_version: Option<String>,
}

impl MetaView {
    fn into_meta(self) -> ObjectMeta {
        ObjectMeta {
            name: self.name,
            namespace: self.namespace,
            resource_version: self.resource_version,
            ..ObjectMeta::default()
        }
    }
}

/// Names the kind a [`Watched`] decodes, at compile time: kube's decode has no access to the
/// `ApiResource` a watcher was built with.
pub trait WatchedKind: Clone + std::fmt::Debug + Send + Sync + 'static {
    const KIND: Kind;
}

macro_rules! watched_kinds {
    ($($marker:ident => $kind:ident),* $(,)?) => {$(
        #[doc = concat!("Marks a watch of ", stringify!($kind), " objects.")]
        #[derive(Clone, Debug)]
        pub struct $marker;

        impl WatchedKind for $marker {
            const KIND: Kind = Kind::$kind;
        }
    )*};
}

watched_kinds! {
    KubernetesClusters => KubernetesCluster,
    MeshServices => MeshService,
    Meshes => Mesh,
    VirtualMeshes => VirtualMesh,
    FailoverServices => FailoverService,
}

/// A [`WatchedObject`] of the kind `K` names: the type a `kube::Api` lists and watches.
#[derive(Clone, Debug)]
pub struct Watched<K> {
    pub object: WatchedObject,
    kind: PhantomData<K>,
}

impl<'de, K: WatchedKind> Deserialize<'de> for Watched<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let object = d.deserialize_newtype_struct(RAW_VALUE_TOKEN, TextVisitor(K::KIND))?;
        Ok(Watched {
            object,
            kind: PhantomData,
        })
    }
}

/// The name under which serde_json's deserializers hand a visitor an object's JSON text
/// (borrowed from the response when they can) instead of parsing it: what its `RawValue` asks
/// for. serde_json does not export it; the tests pin that list pages and watch events decode
/// through it, and any other deserializer falls back to buffering the object.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

struct TextVisitor(Kind);

impl<'de> Visitor<'de> for TextVisitor {
    type Value = WatchedObject;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WatchedObject, A::Error> {
        let Some(first) = map.next_key::<Text<'de>>()? else {
            return Ok(WatchedObject::from_json(self.0, "{}"));
        };
        if *first == *RAW_VALUE_TOKEN {
            let text = map.next_value::<Text<'de>>()?;
            return Ok(WatchedObject::from_json(self.0, &text));
        }
        // A deserializer that does not know the token gave the object's own fields.
        let mut object = serde_json::Map::new();
        object.insert(first.to_string(), map.next_value()?);
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            object.insert(key, value);
        }
        Ok(WatchedObject::from_json(
            self.0,
            &Value::Object(object).to_string(),
        ))
    }

    /// serde's buffered form: a watch event whose `object` came before its `type`.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<WatchedObject, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(WatchedObject::from_json(self.0, &value.to_string()))
    }
}

/// A string borrowed from the input when the deserializer can lend it.
struct Text<'de>(Cow<'de, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }

            fn visit_str<E>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }

            fn visit_string<E>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<K: WatchedKind> Resource for Watched<K> {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.object.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.object.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::ResourceExt;
    use serde_json::json;

    fn page<K: WatchedKind>(items: serde_json::Value) -> Vec<Watched<K>> {
        let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "9"},
                          "items": items});
        let list: kube::core::ObjectList<Watched<K>> =
            serde_json::from_str(&list.to_string()).unwrap();
        list.items
    }

    #[test]
    fn a_malformed_object_does_not_fail_its_page() {
        let items = page::<VirtualMeshes>(json!([
            {"metadata": {"name": "bad", "namespace": "smh", "resourceVersion": "3"},
             "spec": {"meshes": "m1"}},
            {"metadata": {"name": "good", "namespace": "smh", "resourceVersion": "4"},
             "spec": {"meshes": [{"name": "m1", "namespace": "smh"}]}},
        ]));
        let [bad, good] = [&items[0].object, &items[1].object];
        let err = bad.decoded.as_ref().unwrap_err();
        assert!(
            err.to_string().starts_with("VirtualMesh smh/bad: "),
            "{err}"
        );
        assert_eq!(bad.metadata.resource_version.as_deref(), Some("3"));
        assert_eq!(bad.object_ref().name, "bad");
        let Ok(TopologyObject::VirtualMesh { me, members }) = &good.decoded else {
            panic!("{good:?}")
        };
        assert_eq!((me.name.as_str(), members.len()), ("good", 1));
    }

    #[test]
    fn decodes_as_the_snapshot_reader_does_and_keeps_the_resource_version() {
        let obj = json!({
            "metadata": {"name": "s", "namespace": "smh", "resourceVersion": "42",
                         "managedFields": [{"manager": "x"}], "labels": {"a": "b"}},
            "spec": {"kubeService": {"ref": {"name": "svc", "namespace": "ns", "cluster": "c1"}},
                     "mesh": {"name": "m1", "namespace": "smh"}},
            "status": {"validatedTrafficPolicies": [{"trafficPolicySpec": {"outlierDetection": {}}}]}
        });
        let watched = WatchedObject::from_json(Kind::MeshService, &obj.to_string());
        assert_eq!(
            watched.decoded.unwrap(),
            decode::decode(Kind::MeshService, &obj).unwrap()
        );
        assert_eq!(watched.metadata.resource_version.as_deref(), Some("42"));
        let late =
            r#"{"spec": {"x": [1, {"y": 2}]}, "metadata": {"name": "c", "resourceVersion": "5"}}"#;
        let late = WatchedObject::from_json(Kind::KubernetesCluster, late);
        assert_eq!(late.metadata.resource_version.as_deref(), Some("5"));
        let bad = WatchedObject::from_json(Kind::KubernetesCluster, r#"{"metadata": 3}"#);
        assert!(bad.metadata.name.is_none() && bad.decoded.is_err());
    }

    #[test]
    fn a_watch_event_decodes_in_either_field_order_and_from_a_value() {
        let object = r#"{"metadata": {"name": "c1", "namespace": "smh", "resourceVersion": "7"}}"#;
        let lines = [
            format!(r#"{{"type": "MODIFIED", "object": {object}}}"#),
            format!(r#"{{"object": {object}, "type": "MODIFIED"}}"#),
        ];
        for line in &lines {
            let event: kube::core::WatchEvent<Watched<KubernetesClusters>> =
                serde_json::from_slice(line.as_bytes()).unwrap();
            let kube::core::WatchEvent::Modified(w) = event else {
                panic!("{line}")
            };
            assert_eq!(w.resource_version().as_deref(), Some("7"), "{line}");
            assert!(
                matches!(
                    w.object.decoded,
                    Ok(TopologyObject::KubernetesCluster { .. })
                ),
                "{line}"
            );
        }
        let value: serde_json::Value = serde_json::from_str(object).unwrap();
        let w: Watched<KubernetesClusters> = serde_json::from_value(value).unwrap();
        assert_eq!(w.object.object_ref().name, "c1");
        let w: Watched<KubernetesClusters> =
            serde_norway::from_str("metadata: {name: c2, namespace: smh}").unwrap();
        assert_eq!(w.object.object_ref().name, "c2");
    }
}
