//! Thread priority for background work that must not hold back acks and deliveries.

/// Gives the calling thread the nice value `nice` (on Linux a nice value is per thread, and
/// threads it spawns inherit it), logging `what` if that fails.
///
/// Never raises the priority: a server started at a higher nice value keeps it.
pub fn lower_priority(nice: i32, what: &str) {
    let tid = rustix::thread::gettid();
    let current = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
    if nice <= current {
        return;
    }
    if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
        tracing::warn!(error = %e, nice, what, "cannot lower the priority of a background thread");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_and_the_threads_it_spawns_run_at_the_lower_priority() {
        let now = rustix::process::getpriority_process(None).unwrap();
        let target = (now + 3).min(19);
        let (own, child) = std::thread::spawn(move || {
            lower_priority(target, "test");
            let own = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
            let child = std::thread::spawn(|| {
                rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
            })
            .join()
            .unwrap();
            (own, child)
        })
        .join()
        .unwrap();
        assert_eq!((own, child), (target, target));
    }
}
