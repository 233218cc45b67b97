//! `identities.*`: identities (the owners of keys, by external id).

use serde::{Deserialize, Serialize};

use super::validate::check;
use super::{EmptyData, Metadata, RatelimitRequest, RatelimitResponse, Validate};
use crate::FieldError;

wire_struct! {
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Identity {
        pub id: String,
        pub external_id: String,
        maybe meta: Metadata,
        maybe ratelimits: Vec<RatelimitResponse>,
    }
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

ref_request! {
    /// `identities.getIdentity` and `deleteIdentity` ([`DeleteIdentityRequest`]): `identity` is
    /// an id or an external id.
    GetIdentityRequest,
    /// `identities.deleteIdentity`: the same body and rules as `getIdentity`.
    DeleteIdentityRequest { identity }
    |c, identity| c.non_empty("identity", identity)
}

pub type GetIdentityResponseData = Identity;

/// Unkey answers `identities.deleteIdentity` with `meta` only; our server sends `data: {}`.
pub type DeleteIdentityResponseData = EmptyData;

wire_struct! {
    /// `identities.updateIdentity`: `identity` is an id or an external id. `meta` and `ratelimits`
    /// replace what the identity has when present (`{}` / `[]` clear them); absent or `null` keeps
    /// it. Rate limits keep their ids by name.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct UpdateIdentityRequest {
        pub identity: String,
        maybe meta: Metadata,
        maybe ratelimits: Vec<RatelimitRequest>,
    }
}

/// The identity after the update.
pub type UpdateIdentityResponseData = Identity;

impl Validate for CreateIdentityRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            c.external_id("externalId", &self.external_id);
            c.some(self.meta.as_ref(), |c, meta| c.meta("meta", meta));
            c.some(self.ratelimits.as_ref(), |c, rls| {
                c.ratelimits("ratelimits", rls)
            });
        })
    }
}

impl Validate for UpdateIdentityRequest {
    fn validate(&self) -> Vec<FieldError> {
        check(|c| {
            // Unkey: `identity` minLength 1, no maximum.
            c.non_empty("identity", &self.identity);
            c.some(self.meta.as_ref(), |c, meta| c.meta("meta", meta));
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
