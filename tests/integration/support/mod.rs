//! Shared helpers for the integration tests: [`app`] runs the server in-process and speaks
//! protocol v1 to it; [`services`] starts real Redis and MariaDB servers; [`push`] stands in for
//! the push services (Web Push, FCM with OAuth, an SMS gateway).

pub mod app;
pub mod push;
pub mod services;
