//! CloudWatch metrics in the embedded metric format (EMF): one JSON line on standard output
//! per measurement, which Lambda's log delivery turns into metrics in the namespace the
//! template gives (`ALTA_METRICS_NAMESPACE` = `AltaMcp/<stack>`). Without a namespace (the
//! local server) nothing is written.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// What the stack counts. The template's alarms name some of these.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measurement<'a> {
    /// A sign-in attempt: `succeeded`, `failed` (wrong email or password) or `locked`
    /// (refused by the throttle before any password check).
    SignIn(&'a str),
    /// Tokens issued, by grant type (`authorization_code`, `refresh_token`).
    TokenIssued(&'a str),
    /// A rotated refresh token presented again: its family was revoked.
    RefreshReuseDetected,
    /// A `tools/call`, by tool and outcome (`ok`, `denied`, `not_found`, …).
    ToolCall { tool: &'a str, outcome: &'a str },
    /// The newest signing key's age in days, seen when the JWKS is served.
    SigningKeyAgeDays(f64),
}

pub const SIGNING_KEY_AGE_DAYS: &str = "SigningKeyAgeDays";

impl Measurement<'_> {
    /// (metric name, unit, value, dimensions)
    fn parts(&self) -> (&'static str, &'static str, f64, Vec<(&'static str, &str)>) {
        match *self {
            Measurement::SignIn(outcome) => ("SignIns", "Count", 1.0, vec![("Outcome", outcome)]),
            Measurement::TokenIssued(grant) => {
                ("TokensIssued", "Count", 1.0, vec![("GrantType", grant)])
            }
            Measurement::RefreshReuseDetected => ("RefreshReuseDetected", "Count", 1.0, vec![]),
            Measurement::ToolCall { tool, outcome } => (
                "ToolCalls",
                "Count",
                1.0,
                vec![("Tool", tool), ("Outcome", outcome)],
            ),
            Measurement::SigningKeyAgeDays(days) => (SIGNING_KEY_AGE_DAYS, "None", days, vec![]),
        }
    }

    /// The EMF document of this measurement.
    pub fn document(&self, namespace: &str, timestamp_ms: u128) -> Value {
        let (name, unit, value, dimensions) = self.parts();
        let mut document = Map::new();
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms as u64,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }],
            }),
        );
        for (key, dimension) in &dimensions {
            document.insert((*key).into(), Value::from(*dimension));
        }
        document.insert(name.into(), json!(value));
        Value::Object(document)
    }
}

/// Writes measurements for one namespace.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    namespace: Option<String>,
}

impl Metrics {
    pub fn new(namespace: Option<String>) -> Self {
        Self { namespace }
    }

    pub fn record(&self, measurement: Measurement<'_>) {
        let Some(namespace) = &self.namespace else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        // One line, straight to standard output, where Lambda's log delivery finds it.
        println!("{}", measurement.document(namespace, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_call_is_an_emf_document_with_its_dimensions() {
        let doc = Measurement::ToolCall {
            tool: "pause_campaign",
            outcome: "denied",
        }
        .document("AltaMcp/test", 1_700_000_000_000);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(directive["Namespace"], "AltaMcp/test");
        assert_eq!(directive["Dimensions"], json!([["Tool", "Outcome"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "ToolCalls", "Unit": "Count"}])
        );
        assert_eq!(doc["Tool"], "pause_campaign");
        assert_eq!(doc["Outcome"], "denied");
        assert_eq!(doc["ToolCalls"], 1.0);
    }

    #[test]
    fn a_gauge_without_dimensions_has_one_empty_dimension_set() {
        let doc = Measurement::SigningKeyAgeDays(2.5).document("AltaMcp/test", 1);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert_eq!(doc[SIGNING_KEY_AGE_DAYS], 2.5);
    }
}
