//! Integration tests: one binary, one module per area. Each test starts its own server on a free
//! port with its own database.

// A panic is how a test fails: the workspace's unwrap/expect lints are for the server code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod actors;
mod admin;
mod apply;
mod browser;
mod chat;
mod cli;
mod cluster;
mod connect_cache;
mod curation;
mod durable;
mod fuzz_corpus;
mod invitations;
mod limits;
mod liveness;
mod mariadb;
mod media;
mod oauth;
mod people;
mod protocol_errors;
mod push;
mod reactions;
mod restart;
mod search;
mod security;
mod shutdown;
mod socketio;
mod uploads;
mod verification;
mod web;
