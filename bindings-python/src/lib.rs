//! keyshift-python: thin binding over keyshift-core (type conversion and error mapping only). Built by a later issue.
