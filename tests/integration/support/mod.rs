//! Shared helpers for the integration tests: [`app`] runs the server in-process and speaks
//! protocol v1 to it; [`services`] starts real Redis and MariaDB servers; [`push`] stands in for
//! the push services (Web Push, FCM with OAuth, an SMS gateway); [`oauth_provider`] stands in
//! for Facebook and Twitter/X sign-in.

pub mod app;
pub mod oauth_provider;
pub mod push;
pub mod services;
pub mod wait;
