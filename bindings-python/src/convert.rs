//! Shared type conversions between Python objects and core values: JSON-shaped values (dicts,
//! lists) through pythonize, `datetime | int` timestamps, and the `record!` macro that declares
//! an immutable result class with `==`, `repr` and `to_dict()`.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use serde::Serialize;

/// `meta`: a dict of JSON values.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Meta(pub keyshift_core::wire::Metadata);

impl<'a, 'py> FromPyObject<'a, 'py> for Meta {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let dict = obj.cast::<PyDict>()?;
        Ok(Meta(pythonize::depythonize(dict.as_any())?))
    }
}

impl<'py> IntoPyObject<'py> for Meta {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize::pythonize(py, &self.0)?)
    }
}

/// A deserializable value given as a dict with snake_case keys (e.g. a ratelimit).
pub struct FromDict<T>(pub T);

impl<'a, 'py, T: serde::de::DeserializeOwned> FromPyObject<'a, 'py> for FromDict<T> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(FromDict(pythonize::depythonize(&obj.to_owned()).map_err(
            |e| crate::error::InvalidInputError::new_err(format!("invalid_input: {e}")),
        )?))
    }
}

/// A point in time: a `datetime` (aware, or naive meaning UTC… as Python's `timestamp()` reads
/// it) or an `int` of Unix milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct UnixMs(pub i64);

impl<'a, 'py> FromPyObject<'a, 'py> for UnixMs {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(ms) = obj.extract::<i64>() {
            return Ok(UnixMs(ms));
        }
        let seconds: f64 = obj.call_method0("timestamp")?.extract()?;
        Ok(UnixMs((seconds * 1000.0).round() as i64))
    }
}

/// A verification outcome code as `keyshift.VerifyCode` (a `str`-valued `enum.Enum` defined in
/// `keyshift/_codes.py`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Code(pub keyshift_core::VerifyCode);

static VERIFY_CODE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

impl<'py> IntoPyObject<'py> for Code {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cls = VERIFY_CODE.import(py, "keyshift._codes", "VerifyCode")?;
        cls.call1((self.0.as_str(),))
    }
}

/// Converts every item of a core list into its binding type.
pub fn map<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(Into::into).collect()
}

/// Python's `repr()` of a string: `'text'`, quoted and escaped the way Python does it.
pub fn py_repr(py: Python<'_>, s: &str) -> PyResult<String> {
    Ok(pyo3::types::PyString::new(py, s).repr()?.to_string())
}

/// `Name(field='value', …)` of a class holding a secret, from the strings it may show.
pub fn shown_repr(py: Python<'_>, name: &str, shown: &[(&str, &str)]) -> PyResult<String> {
    let parts = shown
        .iter()
        .map(|(k, v)| Ok(format!("{k}={}", py_repr(py, v)?)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(format!("{name}({})", parts.join(", ")))
}

/// `to_dict()` of a class holding a secret: the strings it may show.
pub fn shown_dict<'py>(py: Python<'py>, shown: &[(&str, &str)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in shown {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// `repr` of a record: `Name(field=value, …)` from its `to_dict()`.
pub fn record_repr(py: Python<'_>, name: &str, value: &impl Serialize) -> PyResult<String> {
    let dict = pythonize::pythonize(py, value)?;
    let dict = dict.cast::<PyDict>()?;
    let mut parts = Vec::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        parts.push(format!("{}={}", k.str()?, v.repr()?));
    }
    Ok(format!("{name}({})", parts.join(", ")))
}

pub fn to_dict<'py>(py: Python<'py>, value: &impl Serialize) -> PyResult<Bound<'py, PyAny>> {
    Ok(pythonize::pythonize(py, value)?)
}

/// Declares an immutable result class with public read-only fields, `==`, `repr` and
/// `to_dict()`, plus any extra methods given in braces.
macro_rules! record {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? }
        $( methods { $($extra:tt)* } )?
    ) => {
        $(#[$meta])*
        #[pyo3::pyclass(frozen, eq, get_all, module = "keyshift")]
        #[derive(Clone, Debug, PartialEq, serde::Serialize)]
        pub struct $name { $( $(#[$fmeta])* pub $field: $ty ),* }

        #[pyo3::pymethods]
        impl $name {
            fn __repr__(&self, py: pyo3::Python<'_>) -> pyo3::PyResult<String> {
                $crate::convert::record_repr(py, stringify!($name), self)
            }
            /// The fields as a dict (nested records as dicts).
            fn to_dict<'py>(&self, py: pyo3::Python<'py>) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::PyAny>> {
                $crate::convert::to_dict(py, self)
            }
            $( $($extra)* )?
        }
    };
}
pub(crate) use record;
