//! One load client that behaves like a real one: it sends into its dm with a window of sends in
//! flight, records every ack, and when its connection breaks it reconnects (to the next host when
//! its own refuses), syncs from the last seq up to which it has everything, and resends what was
//! never acked with the same `client_id`. It also keeps score of what the server handed it:
//! a seq delivered more often than the live stream plus the syncs it asked for explain is a
//! duplicate; a seq or `client_id` answered with two different message ids is a conflict.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use chat_protocol::{
    decode_server, encode_client, ClientFrame, SendFrame, ServerFrame, SyncFrame, WireData,
    WireFormat,
};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{self, Ws};

/// What every client does now; the run moves them through these in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Connect and wait (every client is connected before the load starts).
    Connect,
    /// Send new messages (closed loop).
    Load,
    /// No new messages; finish (resend) what is not acked yet.
    Drain,
    /// Sync from the last seq up to which everything is known, once, and report.
    FinalSync,
    /// Close and hand in the outcome.
    Stop,
}

/// Counters shared by every client of a run.
#[derive(Default)]
pub struct Shared {
    /// Acks of first sends and resends alike (the rate).
    pub acks: AtomicU64,
    pub reconnects: AtomicU64,
    pub resent: AtomicU64,
    /// Longest time a client was without a connection, from the break to the next `hello` (ms).
    pub max_offline_ms: AtomicU64,
    /// Clients that had their first `hello`.
    pub connected: AtomicUsize,
    /// Clients with nothing unacked in the Drain phase.
    pub drained: AtomicUsize,
    /// Clients whose final sync ended with `synced`.
    pub synced: AtomicUsize,
    pub errors: Mutex<BTreeMap<String, u64>>,
}

impl Shared {
    fn error(&self, what: &str) {
        if let Ok(mut m) = self.errors.lock() {
            *m.entry(what.to_owned()).or_default() += 1;
        }
    }
}

/// Who a client is and where it may connect.
pub struct Spec {
    pub idx: usize,
    pub room: String,
    pub token: String,
    /// Servers in order of preference, starting with this client's own.
    pub hosts: Vec<SocketAddr>,
    pub src: Option<Ipv4Addr>,
    pub window: usize,
    pub body: usize,
    /// Prefix of this run's client ids (`<tag>.<client>.<n>`).
    pub tag: String,
}

/// What a client saw, handed in at the end.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    pub idx: usize,
    pub room: String,
    /// The room's last seq in the first `hello`: everything up to it was there before the run.
    pub base: i64,
    /// Every ack: client id → (message id, seq).
    #[serde(skip)]
    pub acks: HashMap<String, (String, i64)>,
    /// Every seq this client knows after `base` (its acks, deliveries and syncs): seq → id.
    #[serde(skip)]
    pub known: BTreeMap<i64, String>,
    /// Sends never acked by the end.
    pub unacked: usize,
    pub duplicates: u64,
    pub conflicts: u64,
    pub reconnects: u64,
    pub final_synced: bool,
    /// A few words on the first duplicate or conflict, for the report.
    pub first_problem: Option<String>,
}

struct Pending {
    body: String,
    /// On the wire, waiting for its answer (else waiting for `retry_at`).
    in_flight: bool,
    retry_at: Instant,
}

/// Runs one client until the Stop phase (or `phase` is dropped).
pub async fn run(
    spec: Spec,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
    first_connect: Arc<Semaphore>,
) -> Outcome {
    let mut c = Client {
        out: Outcome {
            idx: spec.idx,
            room: spec.room.clone(),
            ..Outcome::default()
        },
        spec,
        shared,
        pending: BTreeMap::new(),
        by_cid: HashMap::new(),
        next_n: 0,
        cursor: 0,
        started: false,
        final_sent: false,
        drained_told: false,
    };
    let mut host = 0usize;
    let mut backoff = Duration::from_millis(100);
    let mut broke_at: Option<Instant> = None;
    loop {
        if *phase.borrow() == Phase::Stop {
            break;
        }
        let permit = if c.started {
            None
        } else {
            first_connect.clone().acquire_owned().await.ok()
        };
        let addr = c.spec.hosts[host % c.spec.hosts.len()];
        let opened = tokio::time::timeout(Duration::from_secs(15), c.open(addr)).await;
        drop(permit);
        let (ws, last_seq) = match opened {
            Ok(Ok(x)) => x,
            Ok(Err(_)) | Err(_) => {
                // Refused or stuck: try the next server (one host: the same one again) soon.
                host += 1;
                let jitter = Duration::from_millis((c.spec.idx as u64 * 7) % 97);
                tokio::select! {
                    _ = tokio::time::sleep(backoff + jitter) => {}
                    _ = phase.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        if let Some(t) = broke_at.take() {
            let ms = t.elapsed().as_millis() as u64;
            c.shared.max_offline_ms.fetch_max(ms, Ordering::Relaxed);
        }
        if c.started {
            c.out.reconnects += 1;
            c.shared.reconnects.fetch_add(1, Ordering::Relaxed);
        } else {
            c.started = true;
            c.out.base = last_seq;
            c.cursor = last_seq;
            c.shared.connected.fetch_add(1, Ordering::Relaxed);
        }
        match c.session(ws, &mut phase).await {
            Ok(true) => break,
            Ok(false) | Err(_) => broke_at = Some(Instant::now()),
        }
    }
    c.out.unacked = c.pending.len();
    c.out
}

struct Client {
    spec: Spec,
    shared: Arc<Shared>,
    out: Outcome,
    /// Sent or to be resent, not acked: n → message.
    pending: BTreeMap<u64, Pending>,
    by_cid: HashMap<String, u64>,
    next_n: u64,
    /// Everything up to this seq is known.
    cursor: i64,
    started: bool,
    final_sent: bool,
    drained_told: bool,
}

/// Per connection: how often each seq arrived, and the cursors of the syncs asked on it.
#[derive(Default)]
struct Session {
    seen: HashMap<i64, u32>,
    syncs: Vec<i64>,
    /// Syncs asked and not answered yet (`synced` or an error).
    open_syncs: u32,
}

impl Client {
    /// Connects, waits for `hello` and returns the room's last seq in it.
    async fn open(&self, addr: SocketAddr) -> Result<(Ws, i64)> {
        let mut ws = conn::connect(
            addr,
            self.spec.src,
            &format!("/ws?token={}", self.spec.token),
        )
        .await?;
        while let Some(msg) = ws.next().await {
            if let Message::Text(t) = msg? {
                if let Ok(ServerFrame::Hello(h)) = decode_server(t.as_bytes(), WireFormat::Json) {
                    let last = h
                        .rooms
                        .iter()
                        .find(|r| r.id.as_str() == self.spec.room)
                        .map(|r| r.last_seq)
                        .context("the dm is not in hello")?;
                    return Ok((ws, last));
                }
            }
        }
        bail!("closed before hello")
    }

    fn client_id(&self, n: u64) -> String {
        format!("{}.{}.{n}", self.spec.tag, self.spec.idx)
    }

    /// One connection's life: Ok(true) when the run is over, Ok(false) or Err when it broke.
    async fn session(&mut self, mut ws: Ws, phase: &mut watch::Receiver<Phase>) -> Result<bool> {
        let mut s = Session::default();
        // A final sync cut off by a broken connection is asked again on the next one.
        self.final_sent = self.out.final_synced;
        if self.out.reconnects > 0 {
            self.sync(&mut ws, &mut s).await?;
        }
        // Whatever was on the wire when the last connection broke is resent, same client id.
        let now = Instant::now();
        for p in self.pending.values_mut() {
            p.in_flight = false;
            p.retry_at = now;
        }
        loop {
            let ph = *phase.borrow();
            if ph == Phase::Stop {
                let _ = ws.close(None).await;
                return Ok(true);
            }
            self.feed(&mut ws, ph).await?;
            if ph >= Phase::Drain && self.pending.is_empty() && !self.drained_told {
                self.drained_told = true;
                self.shared.drained.fetch_add(1, Ordering::Relaxed);
            }
            if ph == Phase::FinalSync && !self.final_sent && self.pending.is_empty() {
                self.final_sent = true;
                self.sync(&mut ws, &mut s).await?;
            }
            let wake = self
                .pending
                .values()
                .filter(|p| !p.in_flight)
                .map(|p| p.retry_at)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            let msg = tokio::select! {
                _ = tokio::time::sleep_until(wake) => continue,
                r = phase.changed() => {
                    if r.is_err() {
                        return Ok(true);
                    }
                    continue;
                }
                m = ws.next() => m,
            };
            let text = match msg {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(_))) | None => bail!("closed"),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(_)) => continue,
            };
            self.on_frame(&text, &mut ws, &mut s).await?;
        }
    }

    /// Sends new messages up to the window (Load only) and resends what is due.
    async fn feed(&mut self, ws: &mut Ws, ph: Phase) -> Result<()> {
        let now = Instant::now();
        let mut frames = Vec::new();
        for (n, p) in self.pending.iter_mut() {
            if !p.in_flight && p.retry_at <= now {
                p.in_flight = true;
                frames.push((*n, p.body.clone()));
            }
        }
        let resends = frames.len();
        while ph == Phase::Load && self.pending.len() < self.spec.window {
            let n = self.next_n;
            self.next_n += 1;
            let mut body = format!("chaos {} {} {n} ", self.spec.tag, self.spec.idx);
            while body.len() < self.spec.body {
                body.push('x');
            }
            self.by_cid.insert(self.client_id(n), n);
            self.pending.insert(
                n,
                Pending {
                    body: body.clone(),
                    in_flight: true,
                    retry_at: now,
                },
            );
            frames.push((n, body));
        }
        if frames.is_empty() {
            return Ok(());
        }
        self.shared
            .resent
            .fetch_add(resends as u64, Ordering::Relaxed);
        for (n, body) in frames {
            let frame = ClientFrame::Send(SendFrame::new(
                self.spec.room.clone().into(),
                self.client_id(n),
                body,
            ));
            ws.feed(Message::Text(encode(&frame)?)).await?;
        }
        ws.flush().await?;
        Ok(())
    }

    async fn sync(&mut self, ws: &mut Ws, s: &mut Session) -> Result<()> {
        s.syncs.push(self.cursor);
        s.open_syncs += 1;
        let frame = ClientFrame::Sync(SyncFrame {
            cursors: [(self.spec.room.clone().into(), self.cursor)].into(),
        });
        ws.send(Message::Text(encode(&frame)?)).await?;
        Ok(())
    }

    async fn on_frame(&mut self, text: &str, ws: &mut Ws, s: &mut Session) -> Result<()> {
        let Ok(frame) = decode_server(text.as_bytes(), WireFormat::Json) else {
            self.shared.error("unreadable frame");
            return Ok(());
        };
        match frame {
            ServerFrame::Ack(a) => {
                self.shared.acks.fetch_add(1, Ordering::Relaxed);
                let id = a.id.as_str().to_owned();
                if let Some(n) = self.by_cid.get(&a.client_id) {
                    self.pending.remove(n);
                }
                match self.out.acks.get(&a.client_id) {
                    Some((old_id, old_seq)) if (old_id, *old_seq) != (&id, a.seq) => {
                        let what = format!(
                            "{} acked as {old_id} seq {old_seq}, then as {id} seq {}",
                            a.client_id, a.seq
                        );
                        self.conflict(what);
                    }
                    Some(_) => {}
                    None => {
                        self.out
                            .acks
                            .insert(a.client_id.clone(), (id.clone(), a.seq));
                    }
                }
                self.learn(a.seq, id);
            }
            ServerFrame::Message(m) if m.room.as_str() == self.spec.room => {
                let count = s.seen.entry(m.seq).or_default();
                *count += 1;
                let asked = s.syncs.iter().filter(|c| **c < m.seq).count() as u32;
                if *count > 1 + asked {
                    self.out.duplicates += 1;
                    if self.out.first_problem.is_none() {
                        self.out.first_problem = Some(format!(
                            "seq {} delivered {count} times on one connection ({asked} syncs asked)",
                            m.seq
                        ));
                    }
                }
                self.learn(m.seq, m.id.as_str().to_owned());
            }
            ServerFrame::Synced(done) => {
                s.open_syncs = s.open_syncs.saturating_sub(1);
                if done.truncated.iter().any(|r| r.as_str() == self.spec.room) {
                    self.sync(ws, s).await?;
                } else if self.final_sent && !self.out.final_synced {
                    self.out.final_synced = true;
                    self.shared.synced.fetch_add(1, Ordering::Relaxed);
                }
            }
            ServerFrame::Error(e) => {
                self.shared.error(e.code.as_str());
                match e.client_id.and_then(|cid| self.by_cid.get(&cid).copied()) {
                    Some(n) => {
                        // Not acked: a real client tries again a little later, same client id.
                        if let Some(p) = self.pending.get_mut(&n) {
                            p.in_flight = false;
                            p.retry_at = Instant::now() + Duration::from_millis(200);
                        }
                    }
                    // Without a client id it answers the sync (the only other frame sent here),
                    // e.g. a pooled Redis connection broken by a restart: asked again a little
                    // later. The failed one delivered nothing, so it no longer explains a repeat.
                    None if s.open_syncs > 0 => {
                        s.open_syncs -= 1;
                        s.syncs.pop();
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        self.sync(ws, s).await?;
                    }
                    None => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Records that `seq` is message `id`, and moves the cursor over what is now contiguous.
    fn learn(&mut self, seq: i64, id: String) {
        if seq <= self.out.base {
            return;
        }
        match self.out.known.get(&seq) {
            Some(old) if *old != id => {
                let what = format!("seq {seq} is {old} and {id}");
                self.conflict(what);
            }
            Some(_) => {}
            None => {
                self.out.known.insert(seq, id);
            }
        }
        while self.out.known.contains_key(&(self.cursor + 1)) {
            self.cursor += 1;
        }
    }

    fn conflict(&mut self, what: String) {
        self.out.conflicts += 1;
        if self.out.first_problem.is_none() {
            self.out.first_problem = Some(what);
        }
    }
}

fn encode(frame: &ClientFrame) -> Result<String> {
    match encode_client(frame, None, WireFormat::Json).map_err(|e| anyhow!("{e:?}"))? {
        WireData::Text(b) | WireData::Binary(b) => Ok(String::from_utf8(b)?),
    }
}
