//! CloudWatch metrics in the embedded metric format (EMF): one JSON line on standard output
//! per measurement, which Lambda's log delivery turns into metrics in the namespace the
//! template gives (`ALTA_METRICS_NAMESPACE` = `AltaMcp/<stack>`). Without a namespace (the
//! local server) nothing is written.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// What the stack counts. The template's alarms and dashboard name these
/// ([`Measurement::catalog`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measurement<'a> {
    /// A sign-in: `method` is `password` or the identity provider's id; `outcome` is
    /// `succeeded`, `failed` (wrong email or password), `locked` (refused by the throttle
    /// before any password check) or, through a provider, `no_match` (no Alta user for the
    /// person the provider vouched for).
    SignIn { method: &'a str, outcome: &'a str },
    /// Tokens issued, by grant type (`authorization_code`, `refresh_token`, `jwt_bearer`).
    TokenIssued(&'a str),
    /// A rotated refresh token presented again: its family was revoked.
    RefreshReuseDetected,
    /// A `tools/call`, by tool and outcome (`ok`, `denied`, `not_found`, …).
    ToolCall { tool: &'a str, outcome: &'a str },
    /// The newest signing key's age in days, seen when the JWKS is served.
    SigningKeyAgeDays(f64),
}

pub const SIGNING_KEY_AGE_DAYS: &str = "SigningKeyAgeDays";

/// A metric as CloudWatch knows it: its name and each set of dimensions it is published
/// with (one metric per set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSpec {
    pub name: &'static str,
    pub dimension_sets: Vec<Vec<&'static str>>,
}

impl<'a> Measurement<'a> {
    /// One of each kind, for the catalog.
    const KINDS: [Measurement<'static>; 5] = [
        Measurement::SignIn {
            method: "password",
            outcome: "succeeded",
        },
        Measurement::TokenIssued("authorization_code"),
        Measurement::RefreshReuseDetected,
        Measurement::ToolCall {
            tool: "get_account",
            outcome: "ok",
        },
        Measurement::SigningKeyAgeDays(0.0),
    ];

    /// Every metric the code publishes, with its dimension sets: what the template's alarms
    /// and dashboard may name (tests/template.rs holds them to it).
    pub fn catalog() -> Vec<MetricSpec> {
        Self::KINDS
            .iter()
            .map(|m| {
                let parts = m.parts();
                MetricSpec {
                    name: parts.name,
                    dimension_sets: parts.dimension_sets,
                }
            })
            .collect()
    }

    fn parts(&self) -> Parts<'a> {
        let counted = |name: &'static str, dimensions: Vec<(&'static str, &'a str)>| {
            let set = dimensions.iter().map(|(k, _)| *k).collect();
            Parts {
                name,
                unit: "Count",
                value: 1.0,
                dimensions,
                dimension_sets: vec![set],
            }
        };
        match *self {
            // Also by outcome alone, as before sign-ins had a method: the totals an alarm
            // or a graph wants without a search.
            Measurement::SignIn { method, outcome } => Parts {
                dimension_sets: vec![vec!["Outcome"], vec!["Method", "Outcome"]],
                ..counted("SignIns", vec![("Method", method), ("Outcome", outcome)])
            },
            Measurement::TokenIssued(grant) => counted("TokensIssued", vec![("GrantType", grant)]),
            Measurement::RefreshReuseDetected => counted("RefreshReuseDetected", vec![]),
            Measurement::ToolCall { tool, outcome } => {
                counted("ToolCalls", vec![("Tool", tool), ("Outcome", outcome)])
            }
            Measurement::SigningKeyAgeDays(days) => Parts {
                name: SIGNING_KEY_AGE_DAYS,
                unit: "None",
                value: days,
                dimensions: vec![],
                dimension_sets: vec![vec![]],
            },
        }
    }

    /// The EMF document of this measurement.
    pub fn document(&self, namespace: &str, timestamp_ms: u128) -> Value {
        let parts = self.parts();
        let mut document = Map::new();
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms as u64,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": parts.dimension_sets,
                    "Metrics": [{"Name": parts.name, "Unit": parts.unit}],
                }],
            }),
        );
        for (key, dimension) in &parts.dimensions {
            document.insert((*key).into(), Value::from(*dimension));
        }
        document.insert(parts.name.into(), json!(parts.value));
        Value::Object(document)
    }
}

/// A measurement as EMF writes it.
struct Parts<'a> {
    name: &'static str,
    unit: &'static str,
    value: f64,
    dimensions: Vec<(&'static str, &'a str)>,
    dimension_sets: Vec<Vec<&'static str>>,
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
    fn a_sign_in_is_published_by_outcome_and_by_method_and_outcome() {
        let doc = Measurement::SignIn {
            method: "globex-sso",
            outcome: "no_match",
        }
        .document("AltaMcp/test", 1);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Outcome"], ["Method", "Outcome"]])
        );
        assert_eq!(doc["Method"], "globex-sso");
        assert_eq!(doc["Outcome"], "no_match");
        assert_eq!(doc["SignIns"], 1.0);
    }

    #[test]
    fn the_catalog_has_every_kind_of_measurement_as_its_documents_publish_it() {
        // A new kind fails to compile here until it is counted, and then fails below
        // until KINDS (and so the catalog) has it.
        let kind = |m: &Measurement| match m {
            Measurement::SignIn { .. } => 0,
            Measurement::TokenIssued(_) => 1,
            Measurement::RefreshReuseDetected => 2,
            Measurement::ToolCall { .. } => 3,
            Measurement::SigningKeyAgeDays(_) => 4,
        };
        let kinds: std::collections::BTreeSet<usize> =
            Measurement::KINDS.iter().map(kind).collect();
        assert_eq!(kinds.len(), Measurement::KINDS.len());
        assert_eq!(kinds, (0..5).collect());
        let catalog = Measurement::catalog();
        for (m, spec) in Measurement::KINDS.iter().zip(&catalog) {
            let doc = m.document("AltaMcp/test", 1);
            let directive = &doc["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(directive["Metrics"][0]["Name"], spec.name);
            assert_eq!(directive["Dimensions"], json!(spec.dimension_sets));
            for set in &spec.dimension_sets {
                for dimension in set {
                    assert!(
                        doc.get(*dimension).is_some(),
                        "{} lacks {dimension}",
                        spec.name
                    );
                }
            }
        }
        let names: Vec<_> = catalog.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "SignIns",
                "TokensIssued",
                "RefreshReuseDetected",
                "ToolCalls",
                SIGNING_KEY_AGE_DAYS
            ]
        );
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
