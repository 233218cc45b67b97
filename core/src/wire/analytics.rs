//! `analytics.getVerifications`: a read-only SQL query over the verification log, and the
//! verification buckets the portal charts.

use serde::{Deserialize, Serialize};

use super::Validate;
use crate::FieldError;

/// Longest `query` accepted, in characters (Unkey bounds the query before parsing it too).
pub const ANALYTICS_QUERY_MAX_LEN: usize = 10_000;

/// `analytics.getVerifications`: one SQL `SELECT` over the five public views
/// (`key_verifications_v1`, `key_verifications_per_{minute,hour,day,month}_v1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetVerificationsRequest {
    pub query: String,
}

/// `analytics.getVerifications` data: one JSON object per result row, keyed by column name.
pub type GetVerificationsResponseData = Vec<serde_json::Map<String, serde_json::Value>>;

impl Validate for GetVerificationsRequest {
    /// Only the length is a schema check; an empty or malformed query is the engine's
    /// `invalid_analytics_query` 400.
    fn validate(&self) -> Vec<FieldError> {
        if self.query.chars().count() > ANALYTICS_QUERY_MAX_LEN {
            return vec![FieldError {
                location: "body.query".into(),
                message: format!(
                    "the query exceeds the maximum length of {ANALYTICS_QUERY_MAX_LEN} characters"
                ),
            }];
        }
        Vec::new()
    }
}

/// Verifications of one time bucket (Unkey's portal data point): `time` is the bucket's start
/// (unix ms, UTC), the rest are counts by outcome (`total` counts every outcome).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationBucket {
    pub time: i64,
    pub total: u64,
    pub valid: u64,
    pub rate_limited: u64,
    pub insufficient_permissions: u64,
    pub forbidden: u64,
    pub disabled: u64,
    pub expired: u64,
    pub usage_exceeded: u64,
}
