use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// `networking.smh.solo.io/v1alpha1` FailoverService: one hostname that fails over through an
/// ordered list of services.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailoverService {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<FailoverServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<FailoverServiceStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailoverServiceSpec {
    /// DNS name clients use to reach the failover service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Namespace in which the translated service is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSpec>,
    /// Registered cluster where the failover service resides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Ordered by decreasing priority: `[0]` fails over to `[1]`, and so on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_services: Option<Vec<ResourceRef>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PortSpec {
    /// A proto3 `uint32`. Kept as a JSON number so that out-of-range values that a schemaless
    /// CRD stored (`-1`, `70000`, `80.5`) can still be read and reported, not rejected on read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// A reference to a Kubernetes service in a registered cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourceRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailoverServiceStatus {
    /// Emitted as an integer; the proto3 mapping also allows a numeric string on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_status: Option<StatusEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation_status: Option<StatusEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translator_errors: Option<Vec<TranslatorError>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranslatorError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translator_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// The status state enum of the original API. Serialised by name; on input the proto3 mapping
/// also allows the enum numbers 0..=4 (see [`State::from_json`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    #[default]
    Unknown,
    Accepted,
    Invalid,
    ProcessingError,
    Conflict,
}

impl State {
    /// Every state, in the order of its proto enum number.
    pub const ALL: [State; 5] = [
        State::Unknown,
        State::Accepted,
        State::Invalid,
        State::ProcessingError,
        State::Conflict,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "UNKNOWN",
            State::Accepted => "ACCEPTED",
            State::Invalid => "INVALID",
            State::ProcessingError => "PROCESSING_ERROR",
            State::Conflict => "CONFLICT",
        }
    }

    /// Reads a state the way the proto3 JSON mapping does: its name or its number.
    pub fn from_json(value: &serde_json::Value) -> Option<State> {
        match value {
            serde_json::Value::String(s) => Self::ALL.into_iter().find(|st| st.as_str() == s),
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| Self::ALL.get(i).copied()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_reads_names_and_numbers() {
        assert_eq!(State::from_json(&json!("CONFLICT")), Some(State::Conflict));
        assert_eq!(State::from_json(&json!(1)), Some(State::Accepted));
        assert_eq!(State::from_json(&json!(5)), None);
        assert_eq!(State::from_json(&json!("PENDING")), None);
        assert_eq!(
            serde_json::to_value(State::ProcessingError).ok(),
            Some(json!("PROCESSING_ERROR"))
        );
    }

    #[test]
    fn spec_round_trips_with_the_original_field_names() {
        let raw = json!({
            "hostname": "checkout.shop.failover",
            "namespace": "shop",
            "port": {"port": 9080, "name": "http", "protocol": "http"},
            "cluster": "mgmt-cluster",
            "failoverServices": [{"name": "checkout", "namespace": "shop", "cluster": "mgmt-cluster"}]
        });
        let spec: FailoverServiceSpec = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(spec.failover_services.as_ref().map(Vec::len), Some(1));
        assert_eq!(serde_json::to_value(&spec).unwrap(), raw);
    }
}
