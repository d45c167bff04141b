//! The session's limit on client frames: a token bucket.

use std::time::Instant;

/// A token bucket: `rate` frames per second sustained, `burst` at once.
pub(super) struct RateLimit {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl RateLimit {
    /// A full bucket.
    pub(super) fn new(rate: f64, burst: f64) -> Self {
        Self {
            tokens: burst,
            last: Instant::now(),
            rate,
            burst,
        }
    }

    /// Takes a token for one frame; `false` when the bucket is empty.
    pub(super) fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_bucket_is_empty() {
        let mut limit = RateLimit::new(0.001, 3.0);
        assert!((0..3).all(|_| limit.take()));
        assert!(!limit.take());
    }

    #[test]
    fn the_bucket_refills_at_its_rate() {
        let mut limit = RateLimit::new(1000.0, 1.0);
        assert!(limit.take());
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(limit.take(), "5 ms at 1000/s refills the one token");
    }
}
