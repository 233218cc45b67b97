//! Test helpers shared by the wire tests: round trips, strict requests, tolerant responses.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::Validate;
use crate::FieldError;

/// Parses `body`, serializes it back and checks the JSON is unchanged.
pub(crate) fn round_trip<T: DeserializeOwned + Serialize>(body: Value) -> T {
    let parsed: T = serde_json::from_value(body.clone()).expect("parses");
    assert_eq!(serde_json::to_value(&parsed).unwrap(), body);
    parsed
}

/// A request with one extra field must be rejected, naming the field.
pub(crate) fn rejects_unknown<T: DeserializeOwned + std::fmt::Debug>(mut body: Value) {
    body.as_object_mut()
        .unwrap()
        .insert("bogusField".into(), json!(1));
    let err = serde_json::from_value::<T>(body).unwrap_err().to_string();
    assert!(err.contains("bogusField"), "{err}");
}

/// A response with one extra field must still parse.
pub(crate) fn tolerates_unknown<T: DeserializeOwned>(mut body: Value) {
    match &mut body {
        Value::Object(map) => {
            map.insert("newerField".into(), json!({"x": 1}));
        }
        Value::Array(items) => {
            for item in items {
                item.as_object_mut()
                    .unwrap()
                    .insert("newerField".into(), json!({"x": 1}));
            }
        }
        _ => unreachable!("response bodies are objects or arrays"),
    }
    serde_json::from_value::<T>(body).expect("tolerates unknown response field");
}

/// A valid request: round-trips, validates clean, refuses an unknown field.
pub(crate) fn request<T: DeserializeOwned + Serialize + std::fmt::Debug + Validate>(
    body: Value,
) -> T {
    let parsed = round_trip::<T>(body.clone());
    assert_eq!(parsed.validate(), vec![], "valid sample");
    rejects_unknown::<T>(body);
    parsed
}

/// A response: round-trips and tolerates an unknown field.
pub(crate) fn response<T: DeserializeOwned + Serialize>(body: Value) -> T {
    let parsed = round_trip::<T>(body.clone());
    tolerates_unknown::<T>(body);
    parsed
}

pub(crate) fn locations(errors: &[FieldError]) -> Vec<String> {
    errors.iter().map(|e| e.location.clone()).collect()
}
