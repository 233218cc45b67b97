//! keyshift-server (being built)
