//! `identities.*`: identities (the owners of keys, by external id).

use serde::{Deserialize, Serialize};

use super::validate::check;
use super::{EmptyData, Metadata, RatelimitRequest, RatelimitResponse, Validate};
use crate::FieldError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub id: String,
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<RatelimitResponse>>,
}

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct CreateIdentityRequest {
        pub external_id: String,
        opt meta: Metadata,
        opt ratelimits: Vec<RatelimitRequest>,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentityResponseData {
    pub identity_id: String,
}

/// `identities.getIdentity` and `deleteIdentity` ([`DeleteIdentityRequest`]): `identity` is an
/// id or an external id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetIdentityRequest {
    pub identity: String,
}

/// `identities.deleteIdentity`: the same body and rules as `getIdentity`.
pub type DeleteIdentityRequest = GetIdentityRequest;

pub type GetIdentityResponseData = Identity;

/// Unkey answers `identities.deleteIdentity` with `meta` only; our server sends `data: {}`.
pub type DeleteIdentityResponseData = EmptyData;

/// `identities.updateIdentity`: `identity` is an id or an external id. `meta` and `ratelimits`
/// replace what the identity has when present (`{}` / `[]` clear them); absent or `null` keeps
/// it. Rate limits keep their ids by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateIdentityRequest {
    pub identity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
}

/// The identity after the update.
pub type UpdateIdentityResponseData = Identity;

impl Validate for CreateIdentityRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.external_id("externalId", &self.external_id);
            if let Some(meta) = &self.meta {
                c.meta("meta", meta);
            }
            if let Some(rls) = &self.ratelimits {
                c.ratelimits("ratelimits", rls);
            }
        })
    }
}

impl Validate for GetIdentityRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| c.non_empty("identity", &self.identity))
    }
}

impl Validate for UpdateIdentityRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            // Unkey: `identity` minLength 1, no maximum.
            c.non_empty("identity", &self.identity);
            if let Some(meta) = &self.meta {
                c.meta("meta", meta);
            }
            if let Some(rls) = &self.ratelimits {
                c.ratelimits("ratelimits", rls);
                for (i, rl) in rls.iter().enumerate() {
                    if rls[..i].iter().any(|earlier| earlier.name == rl.name) {
                        c.push(
                            &format!("ratelimits[{i}].name"),
                            format!(
                                "ratelimit `{}` is already defined in the request",
                                crate::keyformat::shown_value(&rl.name)
                            ),
                        );
                    }
                }
            }
        })
    }
}
