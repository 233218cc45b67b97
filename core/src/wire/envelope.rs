//! The envelopes of every answer (DESIGN.md §4), defined once for the server, which writes them,
//! and the client, which reads them: `{"meta":{"requestId"},"data":…,"pagination"?}` on success
//! and `{"meta":{"requestId"},"error":{title,detail,status,type,errors?}}` on failure.
//!
//! Written, they always have every documented part. Read, they are lenient where a proxy or
//! another server may differ: a `null` or absent `requestId`, `title`, `detail`, `status` or
//! `type` reads as empty (`0`), and the client ([`crate::http`]) reads the parts it needs as
//! `Option`s through [`SuccessEnvelope`]'s type parameters.

use serde::{Deserialize, Deserializer, Serialize};

use crate::FieldError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default, deserialize_with = "null_as_default")]
    pub request_id: String,
}

impl Meta {
    pub fn new(request_id: impl Into<String>) -> Meta {
        Meta {
            request_id: request_id.into(),
        }
    }

    /// The request id, unless it is empty (absent or `null` when read).
    pub fn request_id(&self) -> Option<&str> {
        Some(self.request_id.as_str()).filter(|id| !id.is_empty())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default)]
    pub has_more: bool,
}

/// `{"meta":{"requestId"},"data":…,"pagination"?}`. The server writes
/// `SuccessEnvelope<&D, &P>`; the client reads `SuccessEnvelope<Option<Value>, Pagination,
/// Option<Meta>>`, where `data` and `meta` may be missing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuccessEnvelope<T, P = Pagination, M = Meta> {
    pub meta: M,
    pub data: T,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub pagination: Option<P>,
}

fn none<P>() -> Option<P> {
    None
}

impl<T, P> SuccessEnvelope<T, P> {
    pub fn new(request_id: impl Into<String>, data: T, pagination: Option<P>) -> Self {
        SuccessEnvelope {
            meta: Meta::new(request_id),
            data,
            pagination,
        }
    }
}

/// The error body (problem details, sent as `application/json`). The client reads
/// `ErrorEnvelope<Option<Meta>, Option<Problem>>`: either part may be missing (an undocumented
/// body from a proxy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope<M = Meta, E = Problem> {
    pub meta: M,
    pub error: E,
}

impl ErrorEnvelope {
    pub fn new(request_id: impl Into<String>, error: Problem) -> Self {
        ErrorEnvelope {
            meta: Meta::new(request_id),
            error,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub detail: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: u16,
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl Problem {
    /// What a client shows: `detail`, else `title` (the first that is not empty).
    pub fn message(&self) -> Option<&str> {
        [self.detail.as_str(), self.title.as_str()]
            .into_iter()
            .find(|s| !s.is_empty())
    }
}

/// `data: {}` of operations that answer nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EmptyData {}

/// Reads `null` as the type's default.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::response;
    use crate::wire::Permission;
    use serde_json::json;

    #[test]
    fn envelopes() {
        let ok: SuccessEnvelope<Vec<Permission>> = response(json!({
            "meta": {"requestId": "req_1"},
            "data": [],
            "pagination": {"cursor": "c", "hasMore": true}
        }));
        assert!(ok.pagination.unwrap().has_more);
        let empty: SuccessEnvelope<EmptyData> =
            response(json!({"meta": {"requestId": "req_1"}, "data": {}}));
        assert_eq!(empty.data, EmptyData {});
        let err: ErrorEnvelope = response(json!({
            "meta": {"requestId": "req_1"},
            "error": {"title": "Bad Request", "detail": "invalid body", "status": 400,
                      "type": "https://unkey.com/docs/errors/bad_request",
                      "errors": [{"location": "body.byteLength", "message": "too small"}]}
        }));
        assert_eq!(err.error.status, 400);
        assert_eq!(err.error.errors.unwrap()[0].location, "body.byteLength");
        // Unkey's validation errors carry a `fix` hint we ignore
        let with_fix: ErrorEnvelope = serde_json::from_value(json!({
            "meta": {"requestId": "req_1"},
            "error": {"title": "t", "detail": "d", "status": 400, "type": "x",
                      "errors": [{"location": "body.apiId", "message": "m", "fix": "f"}]}
        }))
        .unwrap();
        assert_eq!(with_fix.error.errors.unwrap().len(), 1);
    }

    #[test]
    fn the_writer_and_the_lenient_reader_agree() {
        let written = serde_json::to_value(SuccessEnvelope::new(
            "req_1",
            &json!({"a": 1}),
            None::<&Pagination>,
        ))
        .unwrap();
        assert_eq!(
            written,
            json!({"meta": {"requestId": "req_1"}, "data": {"a": 1}})
        );
        type Lenient = SuccessEnvelope<Option<serde_json::Value>, Pagination, Option<Meta>>;
        let read: Lenient = serde_json::from_value(written).unwrap();
        assert_eq!(read.meta.unwrap().request_id(), Some("req_1"));
        let bare: Lenient = serde_json::from_value(json!({"pagination": null})).unwrap();
        assert_eq!((bare.meta, bare.data, bare.pagination), (None, None, None));
        let odd: ErrorEnvelope<Option<Meta>, Option<Problem>> = serde_json::from_value(json!({
            "meta": {"requestId": null}, "error": {"title": null, "detail": "d"}
        }))
        .unwrap();
        assert_eq!(odd.meta.unwrap().request_id(), None);
        assert_eq!(odd.error.unwrap().message(), Some("d"));
    }
}
