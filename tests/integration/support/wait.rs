//! Waiting for state that has no event to await from outside.

use std::time::Duration;

/// Waits until `cond` holds, checking every 50 ms for at most `secs` seconds. Only for state
/// that changes on a timer with nothing to await from outside (the Syncers drain on a timer);
/// panics naming `what` when it never holds.
pub async fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..secs * 20 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}
