//! Graceful shutdown on SIGTERM or SIGINT, as one ordered sequence ([`Shutdown::run`]):
//!
//! 1. Intake stops: new requests and WebSocket upgrades get 503 and their connection is closed
//!    ([`gate`]), so load balancers and clients hear at once that this server is going. (The
//!    listener stays open until the end rather than paused: a paused listener leaves new
//!    connections hanging unanswered, and Engine.IO clients open one for every long poll.)
//! 2. Every connection hears the [`Notice`] (the pattern of mini-redis's `shutdown.rs`: one
//!    notice every task listens to, and a guard each holds until it is done). A session answers
//!    what it already received (each `send` gets its ack, or an error), answers anything newer
//!    with `unavailable`, then closes with 1001 "going away" (Socket.IO: the Engine.IO close);
//!    it closes at [`Notice::close_by`] at the latest.
//! 3. Once no connection or request holds a guard, the actors drain: Presence stores the
//!    `last_seen` of those whose sessions just closed, then in write-path order rooms finish
//!    their batches in flight, the Persister its group commit, and with Redis the Syncer copies
//!    the write buffer into SQL. Each answers a [`Drain`].
//! 4. The database pool closes once the queries in flight are done (one cut off when the runtime
//!    goes away would panic as its connection is dropped).
//! 5. The HTTP server stops; the process exits with status 0.
//!
//! The whole sequence is bounded by `server.shutdown_timeout_ms`; a phase cut short by it is
//! logged and the next one runs with what time is left. A second signal ends it at once (nothing
//! acked is lost either way: it is durable already, in Redis or SQL).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Message, Recipient};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::ResponseError;
use tokio::sync::{watch, Notify};
use tokio::time::{timeout_at, Instant};

use crate::error::ChatError;

/// The close reason that goes with `close::GOING_AWAY` when the server shuts down.
pub const CLOSE_REASON: &str = "going away";

/// Finish what is in flight, then answer. Presence (asked through the RoomRegistry: see
/// [`DrainPresence`]), rooms (through the RoomRegistry), the Persister and the Syncer handle it.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Drain;

/// Shutdown: drain Presence, asked of the registry, which passes it on behind every session
/// change it told Presence of (the sessions that just closed told the registry, not Presence).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct DrainPresence;

/// What connections hear when the server starts shutting down.
#[derive(Clone, Copy, Debug)]
pub struct Notice {
    /// Connections close by then, whatever they still wait for.
    pub close_by: Instant,
}

/// The shutdown state shared by everything that serves clients; cheap to clone.
#[derive(Clone, Default)]
pub struct Shutdown(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// `Some` once shutdown began.
    notice: watch::Sender<Option<Notice>>,
    /// Guards alive (connections and requests being served).
    busy: AtomicUsize,
    /// Woken when `busy` drops to zero.
    idle: Notify,
}

/// Held by a connection or request while it is served; shutdown waits until none is left.
pub struct Guard(Arc<Inner>);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A connection's view of shutdown: the notice to wait for, and its [`Guard`].
pub struct Listener {
    notice: watch::Receiver<Option<Notice>>,
    _guard: Guard,
}

impl Listener {
    /// Shutdown has begun.
    pub fn heard(&self) -> bool {
        self.notice.borrow().is_some()
    }

    /// Resolves when shutdown begins (at once if it has); never if the server is dropped
    /// without one (tests that stop it through its handle).
    pub fn notice(&self) -> impl Future<Output = Notice> + 'static {
        let mut rx = self.notice.clone();
        async move {
            let notice = match rx.wait_for(Option::is_some).await {
                Ok(n) => *n,
                Err(_) => None,
            };
            match notice {
                Some(n) => n,
                None => std::future::pending().await,
            }
        }
    }
}

/// The actors [`Shutdown::run`] drains, in this order, and the server it stops.
pub struct Stages {
    /// The HTTP server, stopped last.
    pub server: ServerHandle,
    /// Presence, through the registry that tells it of closed sessions (see [`DrainPresence`]):
    /// answers once their `last_seen` writes are done.
    pub presence: Recipient<DrainPresence>,
    /// The RoomRegistry: answers once every running room has finished its batches.
    pub rooms: Recipient<Drain>,
    /// The Persister: answers once its group commit has nothing left.
    pub persister: Recipient<Drain>,
    /// The Syncer, with Redis: answers once the write buffer is copied into SQL.
    pub syncer: Option<Recipient<Drain>>,
    /// The SQL database, closed last.
    pub database: sea_orm::DatabaseConnection,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Shutdown began: new work is refused.
    pub fn is_draining(&self) -> bool {
        self.0.notice.borrow().is_some()
    }

    /// A guard for work that must be finished before the actors drain.
    pub fn guard(&self) -> Guard {
        self.0.busy.fetch_add(1, Ordering::AcqRel);
        Guard(self.0.clone())
    }

    /// For a connection: the notice and a guard held as long as the listener.
    pub fn listen(&self) -> Listener {
        Listener {
            notice: self.0.notice.subscribe(),
            _guard: self.guard(),
        }
    }

    fn busy(&self) -> usize {
        self.0.busy.load(Ordering::Acquire)
    }

    /// Resolves once no guard is held.
    async fn idle(&self) {
        loop {
            let woken = self.0.idle.notified();
            tokio::pin!(woken);
            // Registered before the count is read, so a guard dropped in between still wakes us.
            woken.as_mut().enable();
            if self.busy() == 0 {
                return;
            }
            woken.await;
        }
    }

    /// The shutdown sequence of the module doc, within `timeout`; a second signal cuts it
    /// short. Returns once the HTTP server has stopped.
    pub async fn run(&self, stages: Stages, timeout: Duration) {
        let server = stages.server.clone();
        tokio::select! {
            () = self.drain(stages, timeout) => {}
            sig = signal() => tracing::warn!(signal = sig, "shutdown: second signal, stopping now"),
        }
        server.stop(false).await;
        tracing::info!("shutdown: HTTP server stopped");
    }

    async fn drain(&self, stages: Stages, timeout: Duration) {
        let start = Instant::now();
        let deadline = start + timeout;
        // Sessions get half the time to answer what they hold; what they close on is then
        // drained with the rest.
        self.0.notice.send_replace(Some(Notice {
            close_by: start + timeout / 2,
        }));
        tracing::info!(
            timeout_ms = timeout.as_millis() as u64,
            "shutdown: intake stopped (new requests and upgrades get 503)"
        );
        tracing::info!(
            open = self.busy(),
            "shutdown: connections answer what they received, then close (1001 going away)"
        );
        if timeout_at(start + timeout * 3 / 4, self.idle())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.busy(),
                "shutdown: connections or requests still open; draining without them"
            );
        }
        let what = "presence stores last_seen";
        step(deadline, what, stages.presence.send(DrainPresence)).await;
        step(
            deadline,
            "rooms finish their batches",
            stages.rooms.send(Drain),
        )
        .await;
        step(deadline, "persister flushes", stages.persister.send(Drain)).await;
        if let Some(syncer) = stages.syncer {
            let what = "syncer copies the Redis write buffer into SQL";
            step(deadline, what, syncer.send(Drain)).await;
        }
        let what = "database pool closes (queries in flight finish)";
        step(deadline, what, stages.database.close_by_ref()).await;
        tracing::info!(
            elapsed_ms = start.elapsed().as_millis() as u64,
            "shutdown: drained"
        );
    }
}

/// Runs one phase of the drain until `deadline`; logs how it ended.
async fn step<E: std::fmt::Display>(
    deadline: Instant,
    phase: &'static str,
    work: impl Future<Output = Result<(), E>>,
) {
    tracing::info!(phase, "shutdown: draining");
    let started = Instant::now();
    match timeout_at(deadline, work).await {
        Ok(Ok(())) => tracing::info!(
            phase,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "shutdown: done"
        ),
        Ok(Err(e)) => tracing::warn!(phase, error = %e, "shutdown: failed"),
        Err(_) => tracing::warn!(phase, "shutdown: cut short by server.shutdown_timeout_ms"),
    }
}

/// Resolves with the name of the first SIGTERM or SIGINT received from now on.
pub async fn signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};

    async fn one(kind: SignalKind, name: &'static str) -> &'static str {
        match signal(kind) {
            Ok(mut s) => {
                s.recv().await;
                name
            }
            Err(e) => {
                tracing::error!(signal = name, error = %e, "cannot listen for the signal");
                std::future::pending().await
            }
        }
    }
    tokio::select! {
        name = one(SignalKind::terminate(), "SIGTERM") => name,
        name = one(SignalKind::interrupt(), "SIGINT") => name,
    }
}

/// HTTP middleware: once shutdown began, new requests get 503 and their connection closes;
/// the others hold a [`Guard`] while they are handled. Polls and posts of a live Engine.IO
/// connection (`/socket.io/?sid=`) still pass, so a polling client gets the answers to what it
/// sent, then its close. Needs the [`Shutdown`] as app data.
pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(shutdown) = req.app_data::<Shutdown>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let live_engine_io = req.path() == "/socket.io/"
        && req
            .query_string()
            .split('&')
            .any(|kv| kv.starts_with("sid="));
    if shutdown.is_draining() && !live_engine_io {
        let mut res = refusal();
        res.head_mut().set_connection_type(ConnectionType::Close);
        return Ok(req.into_response(res).map_into_right_body());
    }
    let _busy = shutdown.guard();
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The answer to requests and WebSocket upgrades once shutdown began.
pub fn refusal() -> actix_web::HttpResponse {
    ChatError::Unavailable("server is shutting down".into()).error_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listeners_hear_the_notice_and_idle_waits_for_every_guard() {
        let shutdown = Shutdown::new();
        let early = shutdown.listen();
        let request = shutdown.guard();
        assert!(!shutdown.is_draining());
        let heard = tokio::spawn(early.notice());
        shutdown.0.notice.send_replace(Some(Notice {
            close_by: Instant::now(),
        }));
        heard.await.unwrap();
        // A connection that starts after the notice hears it at once.
        let late = shutdown.listen();
        late.notice().await;
        assert!(shutdown.is_draining());

        let idle = tokio::spawn({
            let s = shutdown.clone();
            async move { s.idle().await }
        });
        drop(request);
        drop(late);
        tokio::task::yield_now().await;
        assert!(!idle.is_finished(), "one listener still holds its guard");
        drop(early);
        tokio::time::timeout(Duration::from_secs(5), idle)
            .await
            .unwrap()
            .unwrap();
    }

    #[actix_web::test]
    async fn once_draining_new_requests_get_503_and_their_connection_closes() {
        use actix_web::{test, web, App, HttpResponse};

        let shutdown = Shutdown::new();
        let app = test::init_service(
            App::new()
                .app_data(shutdown.clone())
                .wrap(actix_web::middleware::from_fn(gate))
                .default_service(web::to(HttpResponse::Ok)),
        )
        .await;
        let get = |uri: &str| test::TestRequest::get().uri(uri).to_request();
        assert_eq!(
            test::call_service(&app, get("/healthz")).await.status(),
            200
        );
        shutdown.0.notice.send_replace(Some(Notice {
            close_by: Instant::now(),
        }));
        let refused = test::call_service(&app, get("/healthz")).await;
        assert_eq!(refused.status(), 503);
        assert_eq!(
            refused.response().head().connection_type(),
            ConnectionType::Close
        );
        // A live Engine.IO connection still polls, to get its answers and its close.
        let poll = get("/socket.io/?EIO=4&transport=polling&sid=abc");
        assert_eq!(test::call_service(&app, poll).await.status(), 200);
        let handshake = get("/socket.io/?EIO=4&transport=polling");
        assert_eq!(test::call_service(&app, handshake).await.status(), 503);
    }

    #[tokio::test]
    async fn without_shutdown_the_notice_never_comes() {
        let shutdown = Shutdown::new();
        let listener = shutdown.listen();
        drop(shutdown);
        let waited = tokio::time::timeout(Duration::from_millis(50), listener.notice()).await;
        assert!(waited.is_err());
    }
}
