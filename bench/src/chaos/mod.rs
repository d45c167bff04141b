//! `make chaos` (issue 19): faults under full load. A closed-loop dm load from clients that act
//! like real ones ([`client`]), a fault injected by `scripts/chaos.sh` while it runs ([`run`]),
//! then MariaDB checked against what the clients were acked and received ([`store_check`]);
//! [`report`] writes CHAOS.md.

pub mod client;
pub mod report;
pub mod run;
pub mod store_check;
