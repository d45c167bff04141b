//! Integration tests: one binary, one module per area. Each test starts its own server on a free
//! port with its own database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod actors;
mod chat;
mod durable;
mod mariadb;
mod people;
mod push;
mod restart;
mod protocol_errors;
