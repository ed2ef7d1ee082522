//! A `spec` read straight from JSON text, without a `serde_json::Value`: every field the API
//! defines, each as absent, `null`, set, or of the wrong type. That is all the defaults, the
//! patch and the rules read, and, for a spec without unknown keys or wrong types, all of it:
//! two such specs are equal exactly when their `Value`s are.

use serde_json::Number;

use super::Decoded;
use crate::api::{FailoverServiceSpec, PortSpec, ResourceRef};

/// One field as read: what proto3 calls unset (absent, `null`) is told apart, because a
/// default adds an absent field but replaces a `null` one.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Slot<T> {
    #[default]
    Absent,
    Null,
    Set(T),
    /// A value of the wrong JSON type (reported as a type error).
    Mistyped,
}

impl<T> Slot<T> {
    pub fn is_present(&self) -> bool {
        !matches!(self, Slot::Absent)
    }

    pub fn get(&self) -> Option<&T> {
        match self {
            Slot::Set(v) => Some(v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self) -> Option<&mut T> {
        match self {
            Slot::Set(v) => Some(v),
            _ => None,
        }
    }

    fn into_set(self) -> Option<T> {
        match self {
            Slot::Set(v) => Some(v),
            _ => None,
        }
    }
}

impl Slot<String> {
    /// Unset as the defaults read it: absent, `null` or `""`.
    pub fn is_unset(&self) -> bool {
        match self {
            Slot::Absent | Slot::Null => true,
            Slot::Set(s) => s.is_empty(),
            Slot::Mistyped => false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        self.get().map(String::as_str)
    }
}

/// `spec`'s fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpecFields {
    pub hostname: Slot<String>,
    pub namespace: Slot<String>,
    pub port: Slot<PortFields>,
    pub cluster: Slot<String>,
    pub failover_services: Slot<Vec<Slot<RefFields>>>,
}

/// `spec.port`'s fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PortFields {
    pub port: Slot<Number>,
    pub name: Slot<String>,
    pub protocol: Slot<String>,
}

/// The fields of one of `spec.failoverServices`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RefFields {
    pub name: Slot<String>,
    pub namespace: Slot<String>,
    pub cluster: Slot<String>,
}

/// An object's `spec` read apart from the object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadSpec {
    pub spec: Slot<SpecFields>,
    /// No unknown key and no value of the wrong type anywhere in the spec: the slots hold all
    /// of it, so [`Slot::same`] compares it as a `Value` would.
    pub complete: bool,
    /// What checking the spec found (its typed spec is left unset): the findings below `spec`,
    /// in the order [`super::decode`] gives them.
    pub found: Decoded,
}

impl ReadSpec {
    /// The spec of an object without a `spec` key.
    pub fn absent() -> ReadSpec {
        ReadSpec {
            spec: Slot::Absent,
            complete: true,
            found: Decoded::default(),
        }
    }
}

impl Slot<SpecFields> {
    /// Whether two complete specs are equal as `Value`s, an absent spec being equal to `null`
    /// (as the engine compares a spec with the old one).
    pub fn same(&self, other: &Slot<SpecFields>) -> bool {
        let null = |s: &Slot<SpecFields>| matches!(s, Slot::Absent | Slot::Null);
        (null(self) && null(other)) || self == other
    }

    /// The typed spec the rules read: what has the wrong type reads as unset, and an entry of
    /// `failoverServices` that is not an object as an empty reference, keeping the index
    /// aligned with the document (as [`super::decode`] reads a `Value`).
    pub fn into_typed(self) -> FailoverServiceSpec {
        let Slot::Set(spec) = self else {
            return FailoverServiceSpec::default();
        };
        FailoverServiceSpec {
            hostname: spec.hostname.into_set(),
            namespace: spec.namespace.into_set(),
            port: spec.port.into_set().map(|p| PortSpec {
                port: p.port.into_set(),
                name: p.name.into_set(),
                protocol: p.protocol.into_set(),
            }),
            cluster: spec.cluster.into_set(),
            failover_services: spec.failover_services.into_set().map(|items| {
                items
                    .into_iter()
                    .map(|item| match item {
                        Slot::Set(r) => ResourceRef {
                            name: r.name.into_set(),
                            namespace: r.namespace.into_set(),
                            cluster: r.cluster.into_set(),
                        },
                        _ => ResourceRef::default(),
                    })
                    .collect()
            }),
        }
    }
}
