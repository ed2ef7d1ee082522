//! JSON snapshots decoded straight into the index: each document, and each item of a
//! `kind: List`, is first delimited as raw text (no allocation per field), then its type is
//! read, then it is decoded with the typed, skipping decode the cluster watcher uses. A
//! generic value tree of the whole snapshot is never built. This reads a file's whole text
//! (standard input, and files the stream reader gave up on); [`add_item`] is also how the
//! stream reader indexes each List item.
//!
//! Whatever the fast path refuses (a document that is not an object, a field of the wrong
//! shape, a duplicate key) is read again through the generic reader, so every error names the
//! file, document, item and field exactly as [`manifest::parse`] and
//! [`TopologyBuilder::insert`] do, and every lenient case stays lenient.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{SnapshotError, add_document, add_list_item, skipped};
use crate::api::Kind;
use crate::manifest::{self, Location, ManifestError};
use crate::topology::TopologyBuilder;
use crate::topology::decode::decode_from;

/// The fields that say what a document is; everything else is skipped unread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head<'a> {
    #[serde(default, borrow)]
    api_version: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    kind: Option<Cow<'a, str>>,
    /// Only read when `kind` is `List`; borrowed from the text.
    #[serde(default, borrow)]
    items: Option<Vec<&'a RawValue>>,
}

/// The head of `raw` when it is an object with string type fields, else `None`. (A JSON array
/// would also fill a struct, field by field, so objects are told apart by their first byte.)
fn head(raw: &RawValue) -> Option<Head<'_>> {
    if !raw.get().trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// Reads every document of one JSON file into `builder`.
pub(super) fn read(
    builder: &mut TopologyBuilder,
    file: &str,
    text: &str,
) -> Result<(), SnapshotError> {
    let stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
    let mut document = 0;
    for next in stream {
        document += 1;
        let raw = next.map_err(|e| manifest::json_error(file, document, e))?;
        add_raw_document(builder, file, document, raw)?;
    }
    Ok(())
}

/// One document of a JSON file: a `kind: List`'s items, or the object itself.
pub(super) fn add_raw_document(
    builder: &mut TopologyBuilder,
    file: &str,
    document: usize,
    raw: &RawValue,
) -> Result<(), SnapshotError> {
    let at = |item| Location::new(file, document, item);
    match head(raw) {
        Some(h) if h.kind.as_deref() == Some("List") => {
            for (j, item) in h.items.unwrap_or_default().into_iter().enumerate() {
                add_item(builder, at(Some(j + 1)), item)?;
            }
            Ok(())
        }
        Some(h) => add_object(builder, at(None), &h, raw.get()),
        None => generic_document(builder, file, document, raw),
    }
}

/// One item of a `kind: List`.
pub(super) fn add_item(
    builder: &mut TopologyBuilder,
    location: Location,
    item: &RawValue,
) -> Result<(), SnapshotError> {
    match head(item) {
        Some(h) => add_object(builder, location, &h, item.get()),
        None => generic_item(builder, location, item),
    }
}

/// One object whose head was read: decoded typed, or, should that fail, through the generic
/// value so the error (or the lenient reading) is the generic reader's.
fn add_object(
    builder: &mut TopologyBuilder,
    location: Location,
    head: &Head<'_>,
    text: &str,
) -> Result<(), SnapshotError> {
    let api_version = head.api_version.as_deref().unwrap_or_default();
    let kind = head.kind.as_deref().unwrap_or_default();
    let Some(k) = Kind::from_type_meta(api_version, kind) else {
        skipped(&location, api_version, kind);
        return Ok(());
    };
    let mut de = serde_json::Deserializer::from_str(text);
    match decode_from(k, &mut de) {
        Ok(object) => {
            builder.apply(object);
            Ok(())
        }
        Err(_) => {
            let raw =
                serde_json::from_str::<&RawValue>(text).map_err(|source| ManifestError::Json {
                    location: location.clone(),
                    source,
                })?;
            generic_item(builder, location, raw)
        }
    }
}

/// What [`scan_item`] made of the bytes it was given.
pub(super) enum Scanned {
    /// An object, indexed (or not), and how many bytes it took.
    Done(usize, Result<(), SnapshotError>),
    /// The bytes end before the object does.
    Incomplete,
    /// Not an object whose head reads; [`add_item`] must take it.
    NotAHead,
}

/// Indexes the List item at the start of `bytes` (an object), reading its head on the way to
/// find where it ends: one pass fewer than delimiting it first.
pub(super) fn scan_item(
    builder: &mut TopologyBuilder,
    location: &Location,
    bytes: &[u8],
) -> Scanned {
    let mut heads = serde_json::Deserializer::from_slice(bytes).into_iter::<Head<'_>>();
    match heads.next() {
        Some(Ok(head)) => {
            let end = heads.byte_offset();
            match bytes.get(..end).map(std::str::from_utf8) {
                Some(Ok(text)) => {
                    Scanned::Done(end, add_object(builder, location.clone(), &head, text))
                }
                _ => Scanned::NotAHead,
            }
        }
        Some(Err(e)) if e.is_eof() => Scanned::Incomplete,
        _ => Scanned::NotAHead,
    }
}

fn generic_value(location: &Location, raw: &RawValue) -> Result<Value, ManifestError> {
    serde_json::from_str(raw.get()).map_err(|source| ManifestError::Json {
        location: location.clone(),
        source,
    })
}

/// An object (or a List item) the fast path refused, read as the generic reader reads it.
fn generic_item(
    builder: &mut TopologyBuilder,
    location: Location,
    raw: &RawValue,
) -> Result<(), SnapshotError> {
    if location.item.is_none() {
        return generic_document(builder, &location.file, location.document, raw);
    }
    let value = generic_value(&location, raw)?;
    add_list_item(builder, location, value)
}

/// A whole document the fast path refused (not an object, or a List of the wrong shape).
fn generic_document(
    builder: &mut TopologyBuilder,
    file: &str,
    document: usize,
    raw: &RawValue,
) -> Result<(), SnapshotError> {
    let value =
        serde_json::from_str(raw.get()).map_err(|e| manifest::json_error(file, document, e))?;
    for doc in manifest::documents_of_value(file, document, value)? {
        add_document(builder, doc)?;
    }
    Ok(())
}
