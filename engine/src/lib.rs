//! keyshift-engine (being built)
