//! Reading an AdmissionReview straight from the request bytes, building only what is read.
//!
//! The API server sends the whole object, and most of it is never looked at: `managedFields`,
//! labels, annotations (the last-applied configuration repeats the spec), `userInfo`, the
//! resource names. Building all of that as a `serde_json::Value` first cost as much as
//! judging the object. Here the envelope's strings are borrowed from the body where they have
//! no escapes, the object's `metadata` keeps only the fields the engine reads (`name`,
//! `namespace`, `generateName`, `generation` and the skip-rules annotation), and `spec`,
//! `status` and every other key of the object are built as before, so the engine sees the
//! same values and reports the same findings.
//!
//! Everything else is still read by the same parser, through `deserialize_any`, without being
//! built: a body is refused for exactly the reasons and with exactly the message that parsing
//! it into a `Value` would give (syntax, invalid UTF-8 or escapes, numbers out of range,
//! nesting deeper than the parser's limit). `serde::de::IgnoredAny` would skip text without
//! those checks. Duplicate keys are read as `Value` reads them: the last one wins.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::spec::SpecSeed;
use crate::decode::slots::ReadSpec;
use crate::skip;

/// With its `raw_value` feature (which this crate enables), serde_json reads an object whose
/// first key is this token as the JSON text held in that key's string value, at every level
/// of a `Value`. The readers here do the same, so that no body is read differently.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// A parsed AdmissionReview: the top-level fields the envelope check reads, or, in the one
/// case described at [`RAW_VALUE_TOKEN`], the whole review as a `Value`.
// Read once per request, on the stack; the small variant is the rare one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Envelope<'de> {
    Read {
        api_version: Option<Cow<'de, str>>,
        kind: Option<Cow<'de, str>>,
        /// `None` when absent or not an object.
        request: Option<Request<'de>>,
    },
    Whole(Value),
}

/// `request.kind`'s `group` and `kind` (each `None` when absent or not a string).
pub(super) type GroupKindText<'de> = (Option<Cow<'de, str>>, Option<Cow<'de, str>>);

/// The request fields read (each `None` when absent or of another JSON type).
#[derive(Debug, Default)]
pub(super) struct Request<'de> {
    pub uid: Option<Cow<'de, str>>,
    /// `request.kind`'s `group` and `kind`, when `request.kind` is an object.
    pub kind: Option<GroupKindText<'de>>,
    pub operation: Option<Cow<'de, str>>,
    pub sub_resource: Option<Cow<'de, str>>,
    pub name: Option<Cow<'de, str>>,
    pub namespace: Option<Cow<'de, str>>,
    pub dry_run: Option<bool>,
    /// `request.object`, with its metadata reduced to what is read; `Null` when absent. When
    /// the spec is read apart, the object has no `spec` key.
    pub object: Value,
    pub old_object: Value,
    /// The object's spec, when read apart from it: only for an object that is a JSON object
    /// read key by key (not for serde_json's raw-value token).
    pub object_spec: Option<ReadSpec>,
    pub old_spec: Option<ReadSpec>,
}

/// How the objects' `spec`s are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Specs {
    /// Into slots and findings ([`super::spec`]), without a `Value`.
    Apart,
    /// As `Value`s inside the objects, as a full parse reads them.
    InObject,
}

/// Parses a body, already checked to be UTF-8 as a whole (so that no string is checked again).
/// Errors are serde_json's, as parsing the body into a `Value` reports them, except the one
/// [`wants_value`] recognises.
pub(super) fn parse(text: &str, specs: Specs) -> Result<Envelope<'_>, serde_json::Error> {
    match specs {
        Specs::Apart => serde_json::from_str::<Parsed<'_, true>>(text).map(|p| p.0),
        Specs::InObject => serde_json::from_str::<Parsed<'_, false>>(text).map(|p| p.0),
    }
}

/// The message of the error [`Unread`] gives for a value it cannot check cheaply.
const READ_AS_VALUE: &str = "this review is to be read as a Value";

/// Whether parsing stopped because a value could not be checked cheaply: the review is then to
/// be read as a `Value`, which gives the exact answer or refusal.
pub(super) fn wants_value(e: &serde_json::Error) -> bool {
    e.is_data() && e.to_string().starts_with(READ_AS_VALUE)
}

/// The value of an annotation the engine does not read: the last-applied configuration above
/// all, often most of a large review and mostly `\"` escapes, which reading it as a string
/// would unescape one by one. It is skipped instead, with the checks a `Value` parse makes:
/// serde_json's skip checks the syntax, every escape and control characters, and the text is
/// UTF-8 (the body was checked whole). What the skip does not check is that a `\u` escape pairs
/// its surrogates, nor numbers' ranges and the nesting depth inside a value that is not a
/// string. A value that might hold either, or that the skip refuses, is not judged here: the
/// review is read again as a `Value`.
struct Unread;

impl<'de> Deserialize<'de> for Unread {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Where the skip fails, a `Value` parse may fail earlier or otherwise (it reads
        // serde_json's raw-value token, numbers and depth as it goes): it says how.
        let Ok(raw) = <&'de serde_json::value::RawValue>::deserialize(d) else {
            return Err(de::Error::custom(READ_AS_VALUE));
        };
        let text = raw.get();
        // A surrogate's escape is `\\u` then `d` or `D` (U+D800 to U+DFFF): only those can be
        // unpaired. (`\\u003c` and the like, which Go writes for `<`, `>` and `&`, cannot.)
        if text.starts_with('"') && !text.contains("\\ud") && !text.contains("\\uD") {
            Ok(Unread)
        } else {
            Err(de::Error::custom(READ_AS_VALUE))
        }
    }
}

/// An [`Envelope`] whose objects' specs are read apart when `APART`.
struct Parsed<'de, const APART: bool>(Envelope<'de>);

/// Reads the first key of a map; when it is [`RAW_VALUE_TOKEN`], reads the rest as `Value`
/// does (the key's string value parsed as JSON) and returns that instead.
pub(super) fn first_key<'de, A, T>(
    map: &mut A,
) -> Result<Result<Option<Cow<'de, str>>, T>, A::Error>
where
    A: MapAccess<'de>,
    T: DeserializeOwned,
{
    match map.next_key::<Key<'de>>()? {
        Some(Key(k)) if k == RAW_VALUE_TOKEN => {
            let text = map.next_value::<RawText>()?.0;
            serde_json::from_str(&text)
                .map(Err)
                .map_err(de::Error::custom)
        }
        Some(Key(k)) => Ok(Ok(Some(k))),
        None => Ok(Ok(None)),
    }
}

/// The string a raw-value token's entry holds (serde_json's own visitor expects "raw value").
struct RawText(String);

impl<'de> Deserialize<'de> for RawText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("raw value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawText, E> {
                Ok(RawText(s.to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A map key, borrowed when it has no escapes.
pub(super) struct Key<'de>(pub(super) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The visitor methods for every JSON value but an object: each is read and checked (a list's
/// items as [`Checked`]) and stands for `$other`.
macro_rules! other_values {
    ($other:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<Checked>()?.is_some() {}
            Ok($other)
        }
    };
}

/// Any JSON value, read and checked as `Value` reads it, but not built.
pub(super) struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Checked;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            other_values!(Checked);
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
                if first_key::<A, Value>(&mut map)?.is_ok_and(|k| k.is_some()) {
                    map.next_value::<Checked>()?;
                    while map.next_entry::<Checked, Checked>()?.is_some() {}
                }
                Ok(Checked)
            }
        }
        d.deserialize_any(V)
    }
}

/// A string value, borrowed when it has no escapes; `None` for any other JSON value.
struct Text<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            other_values!(Text(None));
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(s.to_owned()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
                Checked::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A boolean value; `None` for any other JSON value.
struct Flag(Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Flag, E> {
                Ok(Flag(Some(b)))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Flag, A::Error> {
                while seq.next_element::<Checked>()?.is_some() {}
                Ok(Flag(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Flag, A::Error> {
                Checked::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Flag(None))
            }
        }
        d.deserialize_any(V)
    }
}

fn text(v: Option<&Value>) -> Option<Cow<'static, str>> {
    v.and_then(Value::as_str).map(|s| Cow::Owned(s.to_owned()))
}

/// `request.kind`: its `group` and `kind` when it is an object.
struct GroupKind<'de>(Option<GroupKindText<'de>>);

impl<'de> Deserialize<'de> for GroupKind<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GroupKind<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            other_values!(GroupKind(None));
            fn visit_str<E: de::Error>(self, _: &str) -> Result<GroupKind<'de>, E> {
                Ok(GroupKind(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GroupKind<'de>, A::Error> {
                let mut key = match first_key::<A, Value>(&mut map)? {
                    Ok(key) => key,
                    Err(whole) => {
                        return Ok(GroupKind(
                            whole
                                .is_object()
                                .then(|| (text(whole.get("group")), text(whole.get("kind")))),
                        ));
                    }
                };
                let (mut group, mut kind) = (None, None);
                while let Some(k) = key {
                    match &*k {
                        "group" => group = map.next_value::<Text>()?.0,
                        "kind" => kind = map.next_value::<Text>()?.0,
                        _ => {
                            map.next_value::<Checked>()?;
                        }
                    }
                    key = map.next_key::<Key>()?.map(|k| k.0);
                }
                Ok(GroupKind(Some((group, kind))))
            }
        }
        d.deserialize_any(V)
    }
}

/// Builds a `Value` from the visitor calls for anything but an object, as `Value` does.
macro_rules! value_visits {
    () => {
        fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
            Ok(Value::Bool(b).into())
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
            Ok(Value::from(n).into())
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
            Ok(Value::from(n).into())
        }
        fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
            Ok(Value::from(n).into())
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Value::String(s.to_owned()).into())
        }
        fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
            Ok(Value::String(s).into())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Value::Null.into())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<Value>()? {
                items.push(item);
            }
            Ok(Value::Array(items).into())
        }
    };
}

/// An object as the engine reads it: every key, with `metadata` reduced by [`Metadata`], and,
/// when `APART`, `spec` read apart ([`SpecSeed`]) instead of kept.
struct Object<const APART: bool>(Value, Option<ReadSpec>);

impl<const APART: bool> From<Value> for Object<APART> {
    fn from(v: Value) -> Object<APART> {
        Object(v, None)
    }
}

impl<'de, const APART: bool> Deserialize<'de> for Object<APART> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const APART: bool>;
        impl<'de, const APART: bool> Visitor<'de> for V<APART> {
            type Value = Object<APART>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            value_visits!();
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<APART>, A::Error> {
                let mut key = match first_key::<A, Value>(&mut map)? {
                    Ok(key) => key,
                    Err(whole) => return Ok(Object(whole, None)),
                };
                let mut out = Map::new();
                let mut spec = None;
                while let Some(k) = key {
                    if APART && k == "spec" {
                        spec = Some(map.next_value_seed(SpecSeed)?);
                    } else {
                        let value = if k == "metadata" {
                            map.next_value::<Metadata>()?.0
                        } else {
                            map.next_value::<Value>()?
                        };
                        out.insert(k.into_owned(), value);
                    }
                    key = map.next_key::<Key>()?.map(|k| k.0);
                }
                let spec = APART.then(|| spec.unwrap_or_else(ReadSpec::absent));
                Ok(Object(Value::Object(out), spec))
            }
        }
        d.deserialize_any(V::<APART>)
    }
}

/// `metadata` with only the keys the engine and the envelope read. Anything but an object
/// reads as `null`: no reader looks into a `metadata` that is not an object, and the decoder
/// accepts any value there.
struct Metadata(Value);

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Metadata;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            other_values!(Metadata(Value::Null));
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Metadata, E> {
                Ok(Metadata(Value::Null))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
                let mut key = match first_key::<A, Value>(&mut map)? {
                    Ok(key) => key,
                    Err(whole) => return Ok(Metadata(whole)),
                };
                let mut out = Map::new();
                while let Some(k) = key {
                    match &*k {
                        "name" | "namespace" | "generateName" | "generation" => {
                            out.insert(k.into_owned(), map.next_value::<Value>()?);
                        }
                        "annotations" => match map.next_value::<Annotations>()?.0 {
                            Some(annotations) => {
                                out.insert(k.into_owned(), annotations);
                            }
                            None => {
                                out.remove("annotations");
                            }
                        },
                        _ => {
                            map.next_value::<Checked>()?;
                        }
                    }
                    key = map.next_key::<Key>()?.map(|k| k.0);
                }
                Ok(Metadata(Value::Object(out)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `metadata.annotations` with only the skip-rules annotation; `None` when not an object.
struct Annotations(Option<Value>);

impl<'de> Deserialize<'de> for Annotations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Annotations;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            other_values!(Annotations(None));
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Annotations, E> {
                Ok(Annotations(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Annotations, A::Error> {
                let mut key = match first_key::<A, Value>(&mut map)? {
                    Ok(key) => key,
                    Err(whole) => return Ok(Annotations(Some(whole))),
                };
                let mut out = Map::new();
                while let Some(k) = key {
                    if k == skip::ANNOTATION {
                        out.insert(k.into_owned(), map.next_value::<Value>()?);
                    } else {
                        map.next_value::<Unread>()?;
                    }
                    key = map.next_key::<Key>()?.map(|k| k.0);
                }
                Ok(Annotations(Some(Value::Object(out))))
            }
        }
        d.deserialize_any(V)
    }
}

/// `request`: `None` when it is not an object.
struct RequestField<'de, const APART: bool>(Option<Request<'de>>);

impl Request<'static> {
    /// The fields of a `request` parsed as a `Value` (see [`RAW_VALUE_TOKEN`]).
    fn from_value(v: Value) -> Option<Request<'static>> {
        let Value::Object(mut m) = v else {
            return None;
        };
        Some(Request {
            uid: text(m.get("uid")),
            kind: m
                .get("kind")
                .filter(|k| k.is_object())
                .map(|k| (text(k.get("group")), text(k.get("kind")))),
            operation: text(m.get("operation")),
            sub_resource: text(m.get("subResource")),
            name: text(m.get("name")),
            namespace: text(m.get("namespace")),
            dry_run: m.get("dryRun").and_then(Value::as_bool),
            object: m.remove("object").unwrap_or(Value::Null),
            old_object: m.remove("oldObject").unwrap_or(Value::Null),
            object_spec: None,
            old_spec: None,
        })
    }
}

impl<'de, const APART: bool> Deserialize<'de> for RequestField<'de, APART> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const APART: bool>;
        impl<'de, const APART: bool> Visitor<'de> for V<APART> {
            type Value = RequestField<'de, APART>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            other_values!(RequestField(None));
            fn visit_str<E: de::Error>(self, _: &str) -> Result<RequestField<'de, APART>, E> {
                Ok(RequestField(None))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RequestField<'de, APART>, A::Error> {
                let mut key = match first_key::<A, Value>(&mut map)? {
                    Ok(key) => key,
                    Err(whole) => return Ok(RequestField(Request::from_value(whole))),
                };
                let mut r = Request {
                    object: Value::Null,
                    old_object: Value::Null,
                    ..Request::default()
                };
                // An absent object reads as `null`, which has no spec to read.
                let (mut object_spec, mut old_spec) = (None, None);
                while let Some(k) = key {
                    match &*k {
                        "uid" => r.uid = map.next_value::<Text>()?.0,
                        "kind" => r.kind = map.next_value::<GroupKind>()?.0,
                        "operation" => r.operation = map.next_value::<Text>()?.0,
                        "subResource" => r.sub_resource = map.next_value::<Text>()?.0,
                        "name" => r.name = map.next_value::<Text>()?.0,
                        "namespace" => r.namespace = map.next_value::<Text>()?.0,
                        "dryRun" => r.dry_run = map.next_value::<Flag>()?.0,
                        "object" => {
                            Object::<APART>(r.object, object_spec) = map.next_value()?;
                        }
                        "oldObject" => {
                            Object::<APART>(r.old_object, old_spec) = map.next_value()?;
                        }
                        _ => {
                            map.next_value::<Checked>()?;
                        }
                    }
                    key = map.next_key::<Key>()?.map(|k| k.0);
                }
                r.object_spec = object_spec;
                r.old_spec = old_spec;
                Ok(RequestField(Some(r)))
            }
        }
        d.deserialize_any(V::<APART>)
    }
}

impl<'de, const APART: bool> Deserialize<'de> for Parsed<'de, APART> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const APART: bool>;
        const NOT_AN_OBJECT: Envelope<'static> = Envelope::Read {
            api_version: None,
            kind: None,
            request: None,
        };
        impl<'de, const APART: bool> Visitor<'de> for V<APART> {
            type Value = Envelope<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            other_values!(NOT_AN_OBJECT);
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Envelope<'de>, E> {
                Ok(NOT_AN_OBJECT)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<'de>, A::Error> {
                let mut key = match first_key::<A, Value>(&mut map)? {
                    Ok(key) => key,
                    Err(whole) => return Ok(Envelope::Whole(whole)),
                };
                let (mut api_version, mut kind, mut request) = (None, None, None);
                while let Some(k) = key {
                    match &*k {
                        "apiVersion" => api_version = map.next_value::<Text>()?.0,
                        "kind" => kind = map.next_value::<Text>()?.0,
                        "request" => request = map.next_value::<RequestField<APART>>()?.0,
                        _ => {
                            map.next_value::<Checked>()?;
                        }
                    }
                    key = map.next_key::<Key>()?.map(|k| k.0);
                }
                Ok(Envelope::Read {
                    api_version,
                    kind,
                    request,
                })
            }
        }
        d.deserialize_any(V::<APART>).map(Parsed)
    }
}

/// Parses an object's text as a review's `request.object` is parsed with its spec read apart.
pub(super) fn parse_object(text: &str) -> Result<(Value, Option<ReadSpec>), serde_json::Error> {
    serde_json::from_str::<Object<true>>(text).map(|o| (o.0, o.1))
}
