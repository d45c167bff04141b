//! The load generator behind `make bench` (see `scripts/bench.sh` and BENCHMARKS.md).
//!
//! It drives three servers with the same workloads, over loopback only, each run bounded in count
//! and time:
//!
//! - this chat server, protocol v1 (register and login over HTTP, `/ws?token=`);
//! - the node + socket.io reference peer (Socket.IO v5 over the Engine.IO v4 WebSocket transport,
//!   framed by hand in [`conn`]);
//! - `ceiling`, a bare tokio-tungstenite broadcast server: what this machine can do at all.
//!
//! Binaries: `loadgen` (scenarios), `ceiling` (the bare server), `insertbench` (SeaORM batch
//! insert vs a raw multi-row INSERT) and `report` (writes BENCHMARKS.md from the results).

pub mod chaos;
pub mod conn;
pub mod marker;
pub mod procfs;
pub mod setup;
pub mod stats;
