//! `Periodic`: an actor that runs one round of background work (a sweep) every so often, never
//! two rounds at once; a failed round is logged and the next one runs on time.

use std::future::Future;
use std::time::Duration;

use actix::prelude::*;

/// Runs `round()` every `every`, skipping a tick while the previous round is still running.
pub struct Periodic<F> {
    every: Duration,
    /// What the rounds do, for the log ("sweep expired uploads").
    what: &'static str,
    round: F,
    running: bool,
}

impl<F> Periodic<F> {
    pub fn new(every: Duration, what: &'static str, round: F) -> Self {
        Self {
            every,
            what,
            round,
            running: false,
        }
    }
}

impl<F, Fut, T, E> Actor for Periodic<F>
where
    F: FnMut() -> Fut + Unpin + 'static,
    Fut: Future<Output = Result<T, E>> + 'static,
    T: 'static,
    E: std::fmt::Display + 'static,
{
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.every, |act, ctx| {
            if act.running {
                return;
            }
            act.running = true;
            let round = (act.round)();
            ctx.spawn(round.into_actor(act).map(|res, act, _| {
                act.running = false;
                if let Err(e) = res {
                    tracing::warn!(error = %e, "cannot {}", act.what);
                }
            }));
        });
    }
}
