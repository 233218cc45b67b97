//! `keyshift_core::scope` and `keyshift_core::query`: Scope, permissions_to_scopes,
//! scopes_to_permissions, parse_permission_query / PermissionQuery.

use keyshift_core::{query, scope};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::py_repr;
use crate::error::to_py;

/// A resource and the actions allowed on it: `Scope("profile", read=True, update=True)`
/// grants `profile.read` and `profile.update`.
#[pyclass(frozen, eq, hash, from_py_object, module = "keyshift")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    #[pyo3(get)]
    pub representation: String,
    #[pyo3(get)]
    pub read: bool,
    #[pyo3(get)]
    pub create: bool,
    #[pyo3(get)]
    pub update: bool,
    #[pyo3(get)]
    pub delete: bool,
}

impl From<scope::Scope> for Scope {
    fn from(s: scope::Scope) -> Self {
        Scope {
            representation: s.representation,
            read: s.read,
            create: s.create,
            update: s.update,
            delete: s.delete,
        }
    }
}

impl From<&Scope> for scope::Scope {
    fn from(s: &Scope) -> Self {
        scope::Scope {
            representation: s.representation.clone(),
            read: s.read,
            create: s.create,
            update: s.update,
            delete: s.delete,
        }
    }
}

pub fn to_core(scopes: &[Scope]) -> Vec<scope::Scope> {
    scopes.iter().map(scope::Scope::from).collect()
}

#[pymethods]
impl Scope {
    #[new]
    #[pyo3(signature = (representation, *, read = false, create = false, update = false, delete = false))]
    fn new(
        representation: String,
        read: bool,
        create: bool,
        update: bool,
        delete: bool,
    ) -> PyResult<Self> {
        let s = scope::Scope {
            representation,
            read,
            create,
            update,
            delete,
        };
        s.validate().map_err(to_py)?;
        Ok(s.into())
    }

    /// Every action: `Scope.all("profile")`.
    #[staticmethod]
    fn all(representation: String) -> PyResult<Scope> {
        let s = scope::Scope::new(representation).with_all();
        s.validate().map_err(to_py)?;
        Ok(s.into())
    }

    /// The CLI form `REPRESENTATION:ACTIONS` (`profile:read,update`, `profile:*`).
    #[staticmethod]
    fn parse(text: &str) -> PyResult<Scope> {
        scope::Scope::parse_cli(text)
            .map(Scope::from)
            .map_err(to_py)
    }

    /// The permission strings this scope grants (`profile.read`, …).
    fn permissions(&self) -> Vec<String> {
        scope::Scope::from(self).permissions()
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("representation", &self.representation)?;
        d.set_item("read", self.read)?;
        d.set_item("create", self.create)?;
        d.set_item("update", self.update)?;
        d.set_item("delete", self.delete)?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let b = |v: bool| if v { "True" } else { "False" };
        Ok(format!(
            "Scope({}, read={}, create={}, update={}, delete={})",
            py_repr(py, &self.representation)?,
            b(self.read),
            b(self.create),
            b(self.update),
            b(self.delete)
        ))
    }
}

/// Expands scopes to permission strings (duplicates removed, first kept).
#[pyfunction]
pub fn scopes_to_permissions(scopes: Vec<Scope>) -> Vec<String> {
    scope::scopes_to_permissions(&to_core(&scopes))
}

/// Folds permissions ending in `.read|.create|.update|.delete` back into scopes.
#[pyfunction]
pub fn permissions_to_scopes(permissions: Vec<String>) -> Vec<Scope> {
    scope::permissions_to_scopes(&permissions)
        .into_iter()
        .map(Scope::from)
        .collect()
}

/// A parsed permission query (`a AND (b OR c)`).
#[pyclass(frozen, eq, module = "keyshift")]
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionQuery(query::PermissionQuery);

#[pymethods]
impl PermissionQuery {
    /// Whether the query holds for these granted permissions (exact match).
    fn evaluate(&self, granted: Vec<String>) -> bool {
        self.0.evaluate_set(&granted)
    }

    /// Every permission name the query mentions, in order of appearance.
    fn names(&self) -> Vec<String> {
        self.0.names().into_iter().map(str::to_string).collect()
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "PermissionQuery({})",
            py_repr(py, &self.0.to_string())?
        ))
    }
}

/// Parses a permission query; an invalid one raises `InvalidInputError` naming the position.
#[pyfunction]
pub fn parse_permission_query(text: &str) -> PyResult<PermissionQuery> {
    query::parse_permission_query(text)
        .map(PermissionQuery)
        .map_err(to_py)
}
