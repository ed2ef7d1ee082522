//! What the rules report: a [`Finding`] names a [`RuleCode`], the [`FieldPath`] it is about and a
//! message. Whether a finding denies is decided later, by [`crate::engine`], from the rule's
//! [`RuleClass`] and the server settings.

use std::fmt;

use serde::Serialize;

/// How a rule's findings are treated at admission (spec §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleClass {
    /// Depends on the object alone: always denies.
    Spec,
    /// Looks up objects discovery may not have produced yet: warns, or denies with
    /// `--strict-references`.
    Reference,
    /// A certain violation against cluster state: denies.
    Conflict,
}

macro_rules! rule_codes {
    ($($code:ident => $class:ident, $doc:literal;)*) => {
        /// Every rule the webhook enforces. The names are the stable codes users see in
        /// messages, `check --output json` and metrics.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleCode {
            $(#[doc = $doc] $code,)*
        }

        impl RuleCode {
            pub const ALL: &'static [RuleCode] = &[$(RuleCode::$code,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(RuleCode::$code => stringify!($code),)*
                }
            }

            pub fn class(self) -> RuleClass {
                match self {
                    $(RuleCode::$code => RuleClass::$class,)*
                }
            }

            /// One-line description, as in the README's rule table.
            pub fn description(self) -> &'static str {
                match self {
                    $(RuleCode::$code => $doc,)*
                }
            }
        }
    };
}

rule_codes! {
    HostnameRequired => Spec, "spec.hostname is unset";
    HostnameInvalid => Spec, "spec.hostname is not a DNS-1123 subdomain";
    PortRequired => Spec, "spec.port is unset";
    PortNumberInvalid => Spec, "spec.port.port is not an integer in 1..=65535";
    PortNameInvalid => Spec, "spec.port.name is unset after defaulting or not an IANA service name";
    PortProtocolInvalid => Spec, "spec.port.protocol is unset after defaulting or not a protocol Istio routes";
    NamespaceRequired => Spec, "spec.namespace is unset";
    NamespaceInvalid => Spec, "spec.namespace is not a DNS-1123 label";
    ClusterRequired => Spec, "spec.cluster is unset";
    ServicesEmpty => Spec, "spec.failoverServices has no entries";
    ServiceRefInvalid => Spec, "a service ref has an unset or malformed name, namespace or cluster";
    ServiceDuplicate => Spec, "a service ref repeats an earlier one, well-formed or not";
    UnknownField => Spec, "a key the API does not define";
    TypeMismatch => Spec, "a value of the wrong JSON type";
    ClusterNotRegistered => Reference, "spec.cluster names no KubernetesCluster";
    ServiceNotFound => Reference, "no MeshService for a service ref";
    MeshNotFound => Reference, "the service's Mesh does not exist";
    OutlierDetectionMissing => Reference, "no validated TrafficPolicy with outlier detection applies to the service";
    MeshNotIstio => Conflict, "the service's Mesh is not Istio";
    MeshNotInVirtualMesh => Conflict, "services span several Meshes and this service's Mesh is in no VirtualMesh";
    MixedVirtualMeshes => Conflict, "the services' Meshes share no common VirtualMesh";
    HostnameConflict => Conflict, "another FailoverService already uses the hostname";
}

impl RuleCode {
    /// The Kubernetes `metav1.CauseType` that a denial's `details.causes[].reason` carries for
    /// this rule, so clients that understand API server validation errors understand ours.
    pub fn cause_type(self) -> &'static str {
        use RuleCode::*;
        match self {
            HostnameRequired | PortRequired | NamespaceRequired | ClusterRequired
            | ServicesEmpty => "FieldValueRequired",
            PortProtocolInvalid => "FieldValueNotSupported",
            ServiceDuplicate | HostnameConflict => "FieldValueDuplicate",
            UnknownField => "FieldValueForbidden",
            TypeMismatch => "FieldValueTypeInvalid",
            ClusterNotRegistered | ServiceNotFound | MeshNotFound => "FieldValueNotFound",
            HostnameInvalid
            | PortNumberInvalid
            | PortNameInvalid
            | NamespaceInvalid
            | ServiceRefInvalid
            | OutlierDetectionMissing
            | MeshNotIstio
            | MeshNotInVirtualMesh
            | MixedVirtualMeshes => "FieldValueInvalid",
        }
    }
}

impl fmt::Display for RuleCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A field path in the Kubernetes style: `spec.port.port`, `spec.failoverServices[2].cluster`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct FieldPath(String);

impl FieldPath {
    /// The path of the object itself (empty).
    pub fn root() -> FieldPath {
        FieldPath(String::new())
    }

    pub fn spec() -> FieldPath {
        FieldPath("spec".to_owned())
    }

    /// Appends an object key. Keys that are not plain identifiers are written in brackets, as
    /// Kubernetes does for map keys, so the path stays unambiguous.
    pub fn key(&self, key: &str) -> FieldPath {
        let plain = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        // Sized once: a clone then a push would allocate twice.
        let mut s = String::with_capacity(self.0.len() + key.len() + 2);
        s.push_str(&self.0);
        if plain {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(key);
        } else {
            s.push('[');
            s.push_str(key);
            s.push(']');
        }
        FieldPath(s)
    }

    pub fn index(&self, i: usize) -> FieldPath {
        let mut s = String::with_capacity(self.0.len() + 8);
        push_index(&mut s, &self.0, i);
        FieldPath(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Writes `list[i]` to `out`: the path of entry `i` of the list at `list`, as
/// [`FieldPath::index`] spells it. Rules that report on thousands of entries write it into a
/// message without building the path; `itoa` because `fmt` costs more than the rest of the path.
pub fn push_index(out: &mut String, list: &str, i: usize) {
    out.push_str(list);
    out.push('[');
    out.push_str(itoa::Buffer::new().format(i));
    out.push(']');
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for FieldPath {
    fn from(s: &str) -> FieldPath {
        FieldPath(s.to_owned())
    }
}

/// One violation of one rule at one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: RuleCode,
    pub field: FieldPath,
    pub message: String,
}

impl Finding {
    pub fn new(code: RuleCode, field: FieldPath, message: impl Into<String>) -> Finding {
        Finding {
            code,
            field,
            message: message.into(),
        }
    }

    pub fn class(&self) -> RuleClass {
        self.code.class()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_kubernetes_field_paths() {
        let p = FieldPath::spec()
            .key("failoverServices")
            .index(2)
            .key("cluster");
        assert_eq!(p.as_str(), "spec.failoverServices[2].cluster");
        assert_eq!(FieldPath::root().key("spec").as_str(), "spec");
        assert_eq!(FieldPath::spec().key("a.b/c").as_str(), "spec[a.b/c]");
    }

    #[test]
    fn every_code_has_a_unique_name_and_a_description() {
        let mut names: Vec<_> = RuleCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RuleCode::ALL.len());
        assert!(RuleCode::ALL.iter().all(|c| !c.description().is_empty()));
        assert_eq!(RuleCode::HostnameConflict.class(), RuleClass::Conflict);
        assert_eq!(RuleCode::ServiceNotFound.class(), RuleClass::Reference);
    }
}
