//! Shared helpers for the integration tests (`tests/integration/main.rs` includes this module as
//! `mod support;`): [`services`] starts real Redis and MariaDB servers.

pub mod services;
