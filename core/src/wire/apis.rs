//! `apis.*`: create, get, list the keys of, and delete an api (a keyspace).

use serde::{Deserialize, Serialize};

use super::limits::*;
use super::validate::check;
use super::{EmptyData, KeyResponseData, Validate};
use crate::FieldError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiRequest {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiResponseData {
    pub api_id: String,
}

ref_request! {
    /// `apis.getApi` and `apis.deleteApi` ([`DeleteApiRequest`]): the api `apiId`.
    GetApiRequest,
    /// `apis.deleteApi`: the same body and rules as `apis.getApi`.
    DeleteApiRequest { api_id }
    |c, id| c.api_id("apiId", id)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetApiResponseData {
    pub id: String,
    pub name: String,
}

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct ListKeysRequest {
        pub api_id: String,
        opt limit: u32,
        opt cursor: String,
        opt external_id: String,
        opt decrypt: bool,
        opt revalidate_keys_cache: bool,
    }
}

/// `apis.listKeys` data (with `pagination`).
pub type ListKeysResponseData = Vec<KeyResponseData>;

pub type DeleteApiResponseData = EmptyData;

impl Validate for CreateApiRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.len("name", &self.name, API_NAME_MIN_LEN, API_NAME_MAX_LEN);
        })
    }
}

impl Validate for ListKeysRequest {
    fn validate(&self) -> Vec<FieldError> {
        // Unkey's schema: `apiId` and `externalId` at least 1 character, no other limit (an
        // id that cannot exist is a 404); `cursor` any string.
        check(|c| {
            c.non_empty("apiId", &self.api_id);
            c.list(self.limit, None, None);
            if let Some(e) = &self.external_id {
                c.non_empty("externalId", e);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::{request, response};
    use serde_json::json;

    #[test]
    fn apis_round_trip() {
        request::<CreateApiRequest>(json!({"name": "payments"}));
        request::<GetApiRequest>(json!({"apiId": "api_123abc"}));
        request::<DeleteApiRequest>(json!({"apiId": "api_123abc"}));
        request::<ListKeysRequest>(json!({
            "apiId": "api_123abc", "limit": 50, "cursor": "key_9", "externalId": "user_1",
            "decrypt": false, "revalidateKeysCache": true
        }));
        response::<CreateApiResponseData>(json!({"apiId": "api_123abc"}));
        response::<GetApiResponseData>(json!({"id": "api_123abc", "name": "payments"}));
    }
}
