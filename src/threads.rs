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

/// Puts the calling thread (and the threads it spawns) under Linux's `SCHED_IDLE` policy: it
/// runs only on CPU time no other thread wants, and a chat thread that wakes up preempts it at
/// once (a nice value alone only shrinks its share). Logs `what` if that fails.
pub fn idle_policy(what: &str) {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 names the calling thread; `param` is a valid sched_param for SCHED_IDLE
    // (whose priority must be 0) and outlives the call.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        tracing::warn!(error = %e, what, "cannot put a background thread under SCHED_IDLE");
    }
}

/// Whether the calling thread runs under `SCHED_IDLE`.
pub fn is_idle_policy() -> bool {
    // SAFETY: pid 0 names the calling thread; the call only reads.
    unsafe { libc::sched_getscheduler(0) == libc::SCHED_IDLE }
}

/// Returns memory that the allocator (mimalloc, the server's global allocator) holds freed to
/// the system now instead of later: the calling thread's free pages and every arena's pages due
/// for purging. For a thread that goes idle after a burst (it frees nothing more, so its
/// allocator would not get round to it). Costs a walk over the arenas: call it on going idle,
/// not per item.
pub fn release_freed_memory() {
    // SAFETY: mi_collect has no preconditions; it only frees memory that nothing references.
    unsafe { libmimalloc_sys::mi_collect(true) };
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

    #[test]
    fn an_idle_thread_and_the_threads_it_spawns_run_under_sched_idle() {
        let (own, child) = std::thread::spawn(|| {
            idle_policy("test");
            (
                is_idle_policy(),
                std::thread::spawn(is_idle_policy).join().unwrap(),
            )
        })
        .join()
        .unwrap();
        assert_eq!((own, child, is_idle_policy()), (true, true, false));
    }
}
