//! Shared helpers for spawn's cross-crate integration tests (`tests/tests/*`).
