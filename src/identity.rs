//! Who an object is: its namespace and name, or the `generateName` prefix it will be named
//! from. Read from the object's `metadata` in one place, for the admission path, the engine and
//! `check` alike.

use serde_json::Value;

use crate::api::ObjectRef;

/// An object's identity, borrowed from the text it was read from: no allocation until an
/// [`ObjectRef`] or a shown name is asked for.
///
/// A missing, non-string or empty `namespace` or `name` reads as empty: the API server never
/// sends an empty name for a named object, and the rules treat both alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identity<'a> {
    pub namespace: &'a str,
    /// Empty on a CREATE with `generateName` before the API server has generated the name.
    pub name: &'a str,
    /// `metadata.generateName` when it is a string, even an empty one.
    generate_name: Option<&'a str>,
}

impl<'a> Identity<'a> {
    /// The identity `object`'s own metadata gives. Never fails: any JSON reads, at worst as
    /// an object with no namespace, no name and no prefix.
    pub fn of(object: &'a Value) -> Identity<'a> {
        let metadata = object.get("metadata");
        let field = |key| metadata.and_then(|m| m.get(key)).and_then(Value::as_str);
        Identity {
            namespace: field("namespace").unwrap_or_default(),
            name: field("name").unwrap_or_default(),
            generate_name: field("generateName"),
        }
    }

    /// The identity of an object under review: the AdmissionRequest's `name` and `namespace`
    /// win over the object's metadata, since they are what the API server stores the object
    /// under; each falls back to the metadata when the request leaves it empty (`name` is
    /// absent on a CREATE with `generateName`).
    pub fn of_request(namespace: &'a str, name: &'a str, object: &'a Value) -> Identity<'a> {
        let metadata = Identity::of(object);
        let or_metadata = |request: &'a str, metadata: &'a str| {
            if request.is_empty() {
                metadata
            } else {
                request
            }
        };
        Identity {
            namespace: or_metadata(namespace, metadata.namespace),
            name: or_metadata(name, metadata.name),
            generate_name: metadata.generate_name,
        }
    }

    /// The reference the rules and the topology index use. The name stays empty for an object
    /// not yet named.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            name: self.name.to_owned(),
            namespace: self.namespace.to_owned(),
        }
    }

    /// Whether the object has a name of its own yet.
    pub fn is_named(&self) -> bool {
        !self.name.is_empty()
    }

    /// The `generateName` prefix of an object that has no name yet; `None` once it is named
    /// or when it has no `generateName` string.
    ///
    /// The prefix is shown two ways, on purpose: a denial quotes it bare (`"fs-" is invalid`),
    /// as the name the user wrote in the object the API server echoes back, while `check`
    /// marks it `fs-*`, since its reports list objects by name across files and formats, where
    /// a bare prefix would read as a real object named `fs-` (`*` is in no real name). Each
    /// output marks the prefix itself; this type only tells it apart from a name.
    pub fn pending_prefix(&self) -> Option<&'a str> {
        self.generate_name.filter(|_| !self.is_named())
    }

    /// The name a user recognises in a denial: the name, or the bare `generateName` prefix
    /// before a name exists (see [`Identity::pending_prefix`]); empty when there is neither.
    pub fn display_name(&self) -> &'a str {
        self.pending_prefix().unwrap_or(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_named_object_shows_its_name_and_has_no_pending_prefix() {
        let object = json!({"metadata": {"name": "f", "namespace": "ns", "generateName": "g-"}});
        let id = Identity::of(&object);
        assert_eq!((id.namespace, id.name), ("ns", "f"));
        assert!(id.is_named());
        assert_eq!(id.pending_prefix(), None);
        assert_eq!(id.display_name(), "f");
        assert_eq!(
            id.object_ref(),
            ObjectRef {
                name: "f".into(),
                namespace: "ns".into()
            }
        );
    }

    #[test]
    fn an_object_with_only_generate_name_shows_the_prefix_under_an_empty_name() {
        let object = json!({"metadata": {"generateName": "fs-", "namespace": "ns"}});
        let id = Identity::of(&object);
        assert!(!id.is_named());
        assert_eq!(id.pending_prefix(), Some("fs-"));
        assert_eq!(id.display_name(), "fs-");
        assert_eq!(id.object_ref().name, "");
        assert_eq!(id.object_ref().namespace, "ns");
    }

    #[test]
    fn an_empty_generate_name_is_still_a_pending_prefix() {
        let object = json!({"metadata": {"generateName": "", "name": ""}});
        let id = Identity::of(&object);
        assert_eq!(id.pending_prefix(), Some(""));
        assert_eq!(id.display_name(), "");
    }

    #[test]
    fn an_object_with_neither_name_nor_prefix_is_empty() {
        let object = json!({"metadata": {"namespace": "ns"}});
        let id = Identity::of(&object);
        assert_eq!((id.namespace, id.name), ("ns", ""));
        assert_eq!(id.pending_prefix(), None);
        assert_eq!(id.display_name(), "");
    }

    #[test]
    fn request_fields_win_over_metadata_and_fall_back_to_it_when_empty() {
        let object = json!({"metadata": {"name": "meta", "namespace": "meta-ns"}});
        let id = Identity::of_request("req-ns", "req", &object);
        assert_eq!((id.namespace, id.name), ("req-ns", "req"));
        assert_eq!(id.display_name(), "req");

        let id = Identity::of_request("", "", &object);
        assert_eq!((id.namespace, id.name), ("meta-ns", "meta"));

        let id = Identity::of_request("req-ns", "", &object);
        assert_eq!((id.namespace, id.name), ("req-ns", "meta"));
    }

    #[test]
    fn a_request_name_hides_the_objects_generate_name() {
        let object = json!({"metadata": {"generateName": "fs-"}});
        let id = Identity::of_request("ns", "fs-x7k2p", &object);
        assert_eq!(id.pending_prefix(), None);
        assert_eq!(id.display_name(), "fs-x7k2p");
        assert_eq!(
            Identity::of_request("ns", "", &object).display_name(),
            "fs-"
        );
    }

    #[test]
    fn any_json_reads_without_panicking_with_non_strings_as_absent() {
        for object in [
            Value::Null,
            json!(5),
            json!("metadata"),
            json!([{"metadata": {"name": "f"}}]),
            json!({}),
            json!({"metadata": null}),
            json!({"metadata": "f"}),
            json!({"metadata": ["name", "f"]}),
            json!({"metadata": {"name": 5, "namespace": ["ns"], "generateName": {"p": "g"}}}),
            json!({"metadata": {"name": null, "namespace": true, "generateName": 1.5}}),
        ] {
            let id = Identity::of(&object);
            assert_eq!(id, Identity::default(), "{object}");
            assert_eq!(id.display_name(), "", "{object}");
            assert_eq!(id.object_ref(), ObjectRef::default(), "{object}");
            let id = Identity::of_request("ns", "", &object);
            assert_eq!((id.namespace, id.name), ("ns", ""), "{object}");
        }
    }
}
