//! Reading an object's `spec` straight from the request text into the slots the engine reads
//! ([`crate::decode::slots`]), with the findings that checking it as a `Value` gives
//! (`UnknownField`, `TypeMismatch`, their paths, their order, the malformed paths), so that no
//! `Value` of the spec is built, walked or dropped.
//!
//! The walk follows the same shape tables as `decode::check`, and asks the same questions of
//! each value (`decode::string_fits`, `number_fits`, the same messages). Where the two differ
//! in how they see a document, this side makes up the difference:
//! - a `Value` holds an object's keys sorted, and the last of duplicate keys: findings are
//!   kept per key and put in key order when an object ends, and an earlier duplicate's
//!   findings are dropped;
//! - what is skipped is still read through `deserialize_any` (the envelope's `Checked`), so a
//!   body is refused exactly as a full parse would refuse it.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use super::envelope::{Checked, Key, first_key};
use crate::decode::slots::{PortFields, ReadSpec, RefFields, Slot, SpecFields};
use crate::decode::{self, Decoded, SPEC, Shape};
use crate::finding::FieldPath;

/// Reads a `spec` value.
pub(super) struct SpecSeed;

impl<'de> DeserializeSeed<'de> for SpecSeed {
    type Value = ReadSpec;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ReadSpec, D::Error> {
        let mut read = ReadSpec::default();
        let root = FieldPath::spec();
        Walk {
            shape: &SPEC,
            at: Loc::Root(&root),
            target: &mut read.spec,
            out: &mut read.found,
        }
        .deserialize(d)?;
        read.complete = read.found.findings.is_empty() && read.found.malformed.is_empty();
        Ok(read)
    }
}

/// Where a value sits; made into a [`FieldPath`] only when a finding needs it, since most
/// values have none.
#[derive(Clone, Copy)]
enum Loc<'a> {
    Root(&'a FieldPath),
    Key(&'a Loc<'a>, &'a str),
    Index(&'a Loc<'a>, usize),
}

impl Loc<'_> {
    fn path(&self) -> FieldPath {
        match self {
            Loc::Root(p) => (*p).clone(),
            Loc::Key(parent, key) => parent.path().key(key),
            Loc::Index(parent, i) => parent.path().index(*i),
        }
    }
}

/// Where a value that fits its shape is kept. Every call sets the whole slot, so the last of
/// duplicate keys wins, as in a `Value`.
trait Target {
    fn null(&mut self);
    fn mistyped(&mut self);
    fn text(&mut self, _s: &str) {}
    fn number(&mut self, _n: Number) {}
    /// An object starts.
    fn object(&mut self) {}
    /// The slot of the object's field `key`, if it keeps one.
    fn field(&mut self, _key: &str) -> Option<&mut dyn Target> {
        None
    }
    /// A list starts.
    fn list(&mut self) {}
    /// The slot of the list's next item, if it keeps one.
    fn item(&mut self) -> Option<&mut dyn Target> {
        None
    }
    /// The list ended where the last [`Target::item`] was asked for: that slot is dropped.
    fn no_more_items(&mut self) {}
}

/// Keeps nothing: the slot of a field without a typed home.
struct Nothing;

impl Target for Nothing {
    fn null(&mut self) {}
    fn mistyped(&mut self) {}
}

impl Target for Slot<String> {
    fn null(&mut self) {
        *self = Slot::Null;
    }
    fn mistyped(&mut self) {
        *self = Slot::Mistyped;
    }
    fn text(&mut self, s: &str) {
        *self = Slot::Set(s.to_owned());
    }
}

impl Target for Slot<Number> {
    fn null(&mut self) {
        *self = Slot::Null;
    }
    fn mistyped(&mut self) {
        *self = Slot::Mistyped;
    }
    fn number(&mut self, n: Number) {
        *self = Slot::Set(n);
    }
}

/// An object with typed fields, by their JSON names.
trait Fields: Default {
    fn field(&mut self, key: &str) -> Option<&mut dyn Target>;
}

impl Fields for SpecFields {
    fn field(&mut self, key: &str) -> Option<&mut dyn Target> {
        Some(match key {
            "hostname" => &mut self.hostname,
            "namespace" => &mut self.namespace,
            "port" => &mut self.port,
            "cluster" => &mut self.cluster,
            "failoverServices" => &mut self.failover_services,
            _ => return None,
        })
    }
}

impl Fields for PortFields {
    fn field(&mut self, key: &str) -> Option<&mut dyn Target> {
        Some(match key {
            "port" => &mut self.port,
            "name" => &mut self.name,
            "protocol" => &mut self.protocol,
            _ => return None,
        })
    }
}

impl Fields for RefFields {
    fn field(&mut self, key: &str) -> Option<&mut dyn Target> {
        Some(match key {
            "name" => &mut self.name,
            "namespace" => &mut self.namespace,
            "cluster" => &mut self.cluster,
            _ => return None,
        })
    }
}

impl<T: Fields> Target for Slot<T> {
    fn null(&mut self) {
        *self = Slot::Null;
    }
    fn mistyped(&mut self) {
        *self = Slot::Mistyped;
    }
    fn object(&mut self) {
        *self = Slot::Set(T::default());
    }
    fn field(&mut self, key: &str) -> Option<&mut dyn Target> {
        self.get_mut()?.field(key)
    }
}

impl Target for Slot<Vec<Slot<RefFields>>> {
    fn null(&mut self) {
        *self = Slot::Null;
    }
    fn mistyped(&mut self) {
        *self = Slot::Mistyped;
    }
    fn list(&mut self) {
        *self = Slot::Set(Vec::new());
    }
    fn item(&mut self) -> Option<&mut dyn Target> {
        let items = self.get_mut()?;
        items.push(Slot::Absent);
        items.last_mut().map(|s| s as &mut dyn Target)
    }
    fn no_more_items(&mut self) {
        if let Some(items) = self.get_mut() {
            items.pop();
        }
    }
}

/// One value checked against `shape` and kept in `target`; findings go to `out`.
struct Walk<'a, 'l> {
    shape: &'static Shape,
    at: Loc<'l>,
    target: &'a mut dyn Target,
    out: &'a mut Decoded,
}

impl Walk<'_, '_> {
    fn mismatch(self, got: &str) {
        self.out.mistyped(self.shape, self.at.path(), got);
        self.target.mistyped();
    }

    fn string(self, s: &str) {
        if decode::string_fits(self.shape, s) {
            self.target.text(s);
        } else {
            self.mismatch(&decode::describe_string(s));
        }
    }

    fn number(self, n: Number) {
        if decode::number_fits(self.shape, &n) {
            self.target.number(n);
        } else {
            self.mismatch(&format!("number {n}"));
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// A key of an object that found something, and where its findings sit in the output.
struct Mark<'de> {
    key: Cow<'de, str>,
    findings: Range<usize>,
    malformed: Range<usize>,
    live: bool,
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.target.null();
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        if !matches!(self.shape, Shape::Any) {
            self.mismatch(&format!("boolean {b}"));
        }
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        self.number(n.into());
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        self.number(n.into());
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<(), E> {
        // Never infinite or NaN from JSON text; a `Value` would hold `null` for one.
        match Number::from_f64(n) {
            Some(n) => self.number(n),
            None => self.target.null(),
        }
        Ok(())
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.string(s);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Shape::Array(item) = self.shape else {
            while seq.next_element::<Checked>()?.is_some() {}
            if !matches!(self.shape, Shape::Any) {
                self.mismatch("a list");
            }
            return Ok(());
        };
        self.target.list();
        for i in 0.. {
            let at = Loc::Index(&self.at, i);
            let mut nothing = Nothing;
            let target = match self.target.item() {
                Some(t) => t,
                None => &mut nothing,
            };
            let walk = Walk {
                shape: item,
                at,
                target,
                out: &mut *self.out,
            };
            if seq.next_element_seed(walk)?.is_none() {
                self.target.no_more_items();
                break;
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut key = match first_key::<A, Value>(&mut map)? {
            Ok(key) => key,
            // serde_json's raw-value token: the value is the JSON text it holds.
            Err(whole) => return self.deserialize(&whole).map_err(de::Error::custom),
        };
        let Shape::Object(fields) = self.shape else {
            if key.is_some() {
                map.next_value::<Checked>()?;
                while map.next_entry::<Checked, Checked>()?.is_some() {}
            }
            if !matches!(self.shape, Shape::Any) {
                self.mismatch("an object");
            }
            return Ok(());
        };
        self.target.object();
        let (start, start_malformed) = (self.out.findings.len(), self.out.malformed.len());
        let mut marks: Vec<Mark<'de>> = Vec::new();
        let mut seen = 0u64;
        let mut duplicates = false;
        while let Some(k) = key {
            let (f, m) = (self.out.findings.len(), self.out.malformed.len());
            let duplicate = match fields.iter().enumerate().find(|(_, (name, _))| *name == k) {
                Some((i, (_, shape))) => {
                    let bit = 1u64 << (i % 64);
                    let duplicate = seen & bit != 0;
                    seen |= bit;
                    let mut nothing = Nothing;
                    let target = match self.target.field(&k) {
                        Some(t) => t,
                        None => &mut nothing,
                    };
                    map.next_value_seed(Walk {
                        shape,
                        at: Loc::Key(&self.at, &k),
                        target,
                        out: &mut *self.out,
                    })?;
                    duplicate
                }
                None => {
                    self.out.unknown(&k, fields, &self.at.path());
                    map.next_value::<Checked>()?;
                    marks.iter().any(|mark| mark.live && mark.key == k)
                }
            };
            if duplicate {
                duplicates = true;
                for mark in marks.iter_mut().filter(|mark| mark.key == k) {
                    mark.live = false;
                }
            }
            let (f_end, m_end) = (self.out.findings.len(), self.out.malformed.len());
            if f_end > f || m_end > m {
                marks.push(Mark {
                    key: k,
                    findings: f..f_end,
                    malformed: m..m_end,
                    live: true,
                });
            }
            key = map.next_key::<Key>()?.map(|k| k.0);
        }
        if duplicates || marks.len() > 1 {
            in_key_order(marks, start, start_malformed, self.out);
        }
        Ok(())
    }
}

/// Puts the findings of one object's keys, which start at `start` (`start_malformed`), in the
/// order of its keys, keeping only the last of duplicate keys: the order and the findings of a
/// `Value`'s sorted map.
fn in_key_order(mut marks: Vec<Mark<'_>>, start: usize, start_malformed: usize, out: &mut Decoded) {
    let findings: Vec<_> = out.findings.drain(start..).collect();
    let malformed: Vec<_> = out.malformed.drain(start_malformed..).collect();
    marks.retain(|mark| mark.live);
    marks.sort_by(|a, b| a.key.cmp(&b.key));
    for mark in marks {
        let shift = |r: &Range<usize>, by: usize| r.start - by..r.end - by;
        if let Some(f) = findings.get(shift(&mark.findings, start)) {
            out.findings.extend(f.iter().cloned());
        }
        if let Some(m) = malformed.get(shift(&mark.malformed, start_malformed)) {
            out.malformed.extend(m.iter().cloned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field the shape tables define below `spec` has a slot, so a field added to the
    /// tables cannot be checked but silently not read.
    #[test]
    fn every_field_of_the_spec_shape_has_a_slot() {
        fn walk(shape: &Shape, target: &mut dyn Target, path: &str) {
            match shape {
                Shape::Object(fields) => {
                    target.object();
                    for (key, shape) in *fields {
                        let field = target.field(key);
                        assert!(field.is_some(), "no slot for {path}.{key}");
                        if let Some(field) = field {
                            walk(shape, field, &format!("{path}.{key}"));
                        }
                    }
                }
                Shape::Array(item) => {
                    target.list();
                    let slot = target.item();
                    assert!(slot.is_some(), "no slot for the items of {path}");
                    if let Some(slot) = slot {
                        walk(item, slot, &format!("{path}[0]"));
                    }
                }
                _ => {}
            }
        }
        let mut spec = Slot::<SpecFields>::Absent;
        walk(&SPEC, &mut spec, "spec");
        assert!(
            matches!(&spec, Slot::Set(s) if s.failover_services.get().is_some_and(|v| v.len() == 1))
        );
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_and_only_its_findings() {
        let text = r#"{"port": {"prot": 1}, "hostname": 5, "port": {"port": 80}, "hostname": "a", "zz": 1, "zz": 2, "aa": 0}"#;
        let read = SpecSeed
            .deserialize(&mut serde_json::Deserializer::from_str(text))
            .unwrap();
        let fields: Vec<_> = read
            .found
            .findings
            .iter()
            .map(|f| f.field.to_string())
            .collect();
        assert_eq!(fields, ["spec.aa", "spec.zz"]);
        assert!(read.found.malformed.is_empty());
        let spec = read.spec.into_typed();
        assert_eq!(spec.hostname.as_deref(), Some("a"));
        assert_eq!(spec.port.and_then(|p| p.port), Some(80.into()));
    }
}
