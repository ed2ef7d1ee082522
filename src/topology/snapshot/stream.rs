//! Snapshot files read from a buffered reader, never held whole: a `kind: List`'s items are
//! taken one at a time (JSON items as raw text, see [`window`](super::window); YAML items as
//! small generic values) and indexed through the same per-item decode the text reader uses, so
//! loading 100,000 MeshServices holds one item at a time rather than the file's 190 MB.
//!
//! The stream readers only accept what they read exactly as the text reader does; anything
//! else (a syntax error, a duplicate top-level key, a `null` or non-object document, an I/O
//! error, an item the decode refuses, several YAML documents) makes them give up, and the
//! caller reads the snapshot again through the text reader, whose answer — or error message —
//! then stands.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{SnapshotError, add_document, add_list_item, json};
use crate::manifest::Location;
use crate::topology::TopologyBuilder;

/// Why the stream reader gave up; the text reader will say what is wrong, if anything.
#[derive(Debug, thiserror::Error)]
#[error("not read alike by the stream and the text readers")]
pub(super) struct GaveUp;

impl From<crate::manifest::ManifestError> for GaveUp {
    fn from(_: crate::manifest::ManifestError) -> GaveUp {
        GaveUp
    }
}

/// Reads a YAML file of one document (what `kubectl get -o yaml` writes) from `reader` into
/// `builder`, a List's items one at a time. A file of several documents is left to the text
/// reader: serde-saphyr streams documents only into owned values, not into the index.
pub(super) fn read_yaml(
    builder: &mut TopologyBuilder,
    file: &str,
    reader: impl Read,
    len: usize,
) -> Result<(), GaveUp> {
    let mut options = crate::manifest::yaml_options(len);
    if let Some(budget) = options.budget.as_mut() {
        budget.max_reader_input_bytes = None;
    }
    serde_saphyr::with_deserializer_from_reader_with_options(reader, options, |de| {
        DocumentSeed::<Value> {
            builder,
            file,
            document: 1,
            item: PhantomData,
        }
        .deserialize(de)
    })
    .map_err(|_| GaveUp)
}

/// What the fields and items of a document are read as before it is known to be a List: raw
/// text for JSON, a small generic value for YAML (one item at a time, never the whole List).
pub(super) trait Item: for<'de> Deserialize<'de> {
    /// The string this holds, if it is one (for `kind`).
    fn string(&self) -> Option<String>;
    /// Indexes one item of a List.
    fn add_item(
        &self,
        builder: &mut TopologyBuilder,
        location: Location,
    ) -> Result<(), SnapshotError>;
    /// Indexes a document that is not a List, from its fields.
    fn add_object(
        fields: Vec<(String, Self)>,
        builder: &mut TopologyBuilder,
        file: &str,
        document: usize,
    ) -> Result<(), SnapshotError>;
}

/// One top-level YAML document.
pub(super) struct DocumentSeed<'b, I> {
    pub(super) builder: &'b mut TopologyBuilder,
    pub(super) file: &'b str,
    pub(super) document: usize,
    pub(super) item: PhantomData<I>,
}

impl<'de, I: Item> DeserializeSeed<'de> for DocumentSeed<'_, I> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, I: Item> Visitor<'de> for DocumentSeed<'_, I> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut fields = Fields::<I>::default();
        while let Some(key) = map.next_key::<String>()? {
            if fields.items_next(&key).map_err(de::Error::custom)? {
                map.next_value_seed(ItemsSeed::<I> {
                    builder: &mut *self.builder,
                    file: self.file,
                    document: self.document,
                    item: PhantomData,
                })?;
            } else {
                fields.field(key, map.next_value()?);
            }
        }
        fields
            .finish(self.builder, self.file, self.document)
            .map_err(de::Error::custom)
    }
}

/// What is known of a document while its fields are read.
pub(super) struct Fields<I> {
    /// `None` until the key is seen; then the kind, if it is a string.
    kind: Option<Option<String>>,
    keys: HashSet<String>,
    /// Every field but `items`: when the document turns out not to be a List it is one
    /// object, put back together and read as the text reader reads it.
    fields: Vec<(String, I)>,
    items_read: bool,
}

impl<I> Default for Fields<I> {
    fn default() -> Self {
        Fields {
            kind: None,
            keys: HashSet::new(),
            fields: Vec::new(),
            items_read: false,
        }
    }
}

impl<I: Item> Fields<I> {
    /// Whether the value of `key` is to be read as a List's items.
    pub(super) fn items_next(&mut self, key: &str) -> Result<bool, GaveUp> {
        if !self.keys.insert(key.to_owned()) {
            // The text reader keeps the last of duplicate keys; so much the rarer path.
            return Err(GaveUp);
        }
        // kubectl writes `items` before `kind`, so the items are read as a List's before the
        // document is known to be one; should it not be, the reader gives up (and the caller
        // discards the builder).
        let may_be_list = self
            .kind
            .as_ref()
            .is_none_or(|k| k.as_deref() == Some("List"));
        let items = key == "items" && may_be_list;
        self.items_read |= items;
        Ok(items)
    }

    pub(super) fn field(&mut self, key: String, value: I) {
        if key == "kind" {
            self.kind = Some(value.string());
        }
        self.fields.push((key, value));
    }

    /// Indexes the document, unless it was a List (whose items are indexed already).
    pub(super) fn finish(
        self,
        builder: &mut TopologyBuilder,
        file: &str,
        document: usize,
    ) -> Result<(), GaveUp> {
        if self.kind.flatten().as_deref() == Some("List") {
            return Ok(());
        }
        if self.items_read {
            return Err(GaveUp);
        }
        I::add_object(self.fields, builder, file, document).map_err(|_| GaveUp)
    }
}

/// The `items` of a (presumed) List: each item is read, decoded and indexed before the next.
struct ItemsSeed<'b, I> {
    builder: &'b mut TopologyBuilder,
    file: &'b str,
    document: usize,
    item: PhantomData<I>,
}

impl<'de, I: Item> DeserializeSeed<'de> for ItemsSeed<'_, I> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, I: Item> Visitor<'de> for ItemsSeed<'_, I> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of objects, or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut item = 0;
        while let Some(value) = seq.next_element::<I>()? {
            item += 1;
            let location = Location::new(self.file, self.document, Some(item));
            value
                .add_item(self.builder, location)
                .map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

impl Item for Box<RawValue> {
    fn string(&self) -> Option<String> {
        serde_json::from_str(self.get()).ok()
    }

    fn add_item(
        &self,
        builder: &mut TopologyBuilder,
        location: Location,
    ) -> Result<(), SnapshotError> {
        json::add_item(builder, location, self)
    }

    fn add_object(
        fields: Vec<(String, Self)>,
        builder: &mut TopologyBuilder,
        file: &str,
        document: usize,
    ) -> Result<(), SnapshotError> {
        let object = object_text(&fields)
            .and_then(RawValue::from_string)
            .map_err(|e| crate::manifest::json_error(file, document, e))?;
        json::add_raw_document(builder, file, document, &object)
    }
}

impl Item for Value {
    fn string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    fn add_item(
        &self,
        builder: &mut TopologyBuilder,
        location: Location,
    ) -> Result<(), SnapshotError> {
        // As the text reader's YAML path reads an item: the generic value, then its decode.
        add_list_item(builder, location, self.clone())
    }

    fn add_object(
        fields: Vec<(String, Self)>,
        builder: &mut TopologyBuilder,
        file: &str,
        document: usize,
    ) -> Result<(), SnapshotError> {
        let object = Value::Object(fields.into_iter().collect());
        for doc in crate::manifest::documents_of_value(file, document, object)? {
            add_document(builder, doc)?;
        }
        Ok(())
    }
}

/// The JSON text of an object with `fields`.
fn object_text(fields: &[(String, Box<RawValue>)]) -> Result<String, serde_json::Error> {
    let mut text = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&serde_json::to_string(key)?);
        text.push(':');
        text.push_str(value.get());
    }
    text.push('}');
    Ok(text)
}
