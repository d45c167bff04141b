//! Integration tests: one binary, one module per area. Each test starts its own server on a free
//! port with its own database.

mod support;

mod actors;
mod chat;
mod durable;
mod mariadb;
mod push;
mod restart;
mod protocol_errors;
