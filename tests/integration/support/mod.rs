//! Shared helpers for the integration tests: [`app`] runs the server in-process and speaks
//! protocol v1 to it; [`services`] starts real Redis and MariaDB servers.

pub mod app;
pub mod services;
