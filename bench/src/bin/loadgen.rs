//! `loadgen`: the scenarios of `make bench`, against this chat server (`--proto chat`), the
//! socket.io reference peer (`--proto sio`) or the bare `ceiling` server (`--proto ceiling`).
//! Every scenario is bounded in count and time (`--max-secs`) and refuses non-loopback targets.
//! Results are written as JSON (`--out`) for the `report` binary.
//!
//! ```text
//! loadgen setup   --http http://127.0.0.1:8080 --users 1000 --idle 40 --out setup.json
//! loadgen idle    --proto chat --host 127.0.0.1:8080 --setup setup.json --server-pid PID \
//!                 --steps 2000,5000,10000,19500 --out idle.json
//! loadgen fanout  --proto sio --host 127.0.0.1:3000 --members 1000 --server-pid PID --out fan.json
//! loadgen fanout  --proto chat --host 127.0.0.1:8081 --more-hosts 127.0.0.1:8082,127.0.0.1:8083 \
//!                 --server-pid P1,P2,P3 --setup setup.json --out cluster3.json
//! loadgen dm      --proto chat --host 127.0.0.1:8080 --setup setup.json --rate 5000 --secs 5 --out dm.json
//! loadgen storm   --proto chat --host 127.0.0.1:8080 --setup setup.json --server-pid PID \
//!                 --users 1000 --devices 2 --out storm.json
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bench::conn::{self, Proto, Sources, Who, Ws};
use bench::marker::{self, now_us};
use bench::procfs::{self, CpuMeter};
use bench::setup::Setup;
use bench::stats::{histogram, Latency};
use clap::{Args, Parser, Subcommand};
use futures_util::{stream, SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(
    about = "Load generator for the chat server, the socket.io peer and the bare ceiling (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Register users and make the fan-out room and dms on this chat server.
    Setup(SetupArgs),
    /// Scenario 1: idle connections ramped in steps; server RSS per connection.
    Idle(IdleArgs),
    /// Internal: one process of idle connections, driven over stdin by `idle`.
    IdleWorker(IdleWorkerArgs),
    /// Scenarios 2 and 3: fan-out in one big room, rate search, then latency at half rate.
    Fanout(FanoutArgs),
    /// Scenario 4: one-to-one traffic across many dms: acks, latency, sync lag.
    Dm(DmArgs),
    /// Scenario 5 (chat only): a reconnect storm, every socket of N users opened at once while
    /// messages flow: time until all are in, delivery during the storm, presence correctness.
    Storm(StormArgs),
    /// Print a free TCP port on 127.0.0.1.
    FreePort,
}

#[derive(Args, Clone)]
struct Common {
    #[arg(long, value_enum)]
    proto: Proto,
    /// Server address (loopback only).
    #[arg(long)]
    host: SocketAddr,
    /// Accounts file from `setup` (chat only).
    #[arg(long)]
    setup: Option<PathBuf>,
    /// Source addresses to spread connections over (127.0.0.2 and up).
    #[arg(long, default_value_t = 16)]
    sources: u8,
    /// Hard limit on the whole command's run time.
    #[arg(long, default_value_t = 300)]
    max_secs: u64,
}

impl Common {
    fn check(&self) -> Result<()> {
        if !self.host.ip().is_loopback() {
            bail!(
                "only loopback targets may be load-tested, not {}",
                self.host
            );
        }
        Ok(())
    }

    fn load_setup(&self, users: usize, idle: usize) -> Result<Setup> {
        match (self.proto, &self.setup) {
            (Proto::Chat | Proto::ChatSio, Some(path)) => Setup::load(path),
            (Proto::Chat | Proto::ChatSio, None) => {
                bail!("--setup is needed for --proto {}", self.proto.name())
            }
            _ => Ok(Setup::names_only(users, idle)),
        }
    }
}

#[derive(Args)]
struct SetupArgs {
    /// Base URL of the chat server's HTTP API.
    #[arg(long)]
    http: String,
    #[arg(long, default_value_t = 1000)]
    users: usize,
    #[arg(long, default_value_t = 40)]
    idle: usize,
    /// Concurrent register requests.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct IdleArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    server_pid: u32,
    /// Total connections after each step.
    #[arg(long, value_delimiter = ',', default_value = "2000,5000,10000,19500")]
    steps: Vec<usize>,
    /// Connections per generator process (each process may hold at most 20,000 open files).
    #[arg(long, default_value_t = 5000)]
    per_proc: usize,
    /// Wait after each step before reading the server's RSS.
    #[arg(long, default_value_t = 2000)]
    settle_ms: u64,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct IdleWorkerArgs {
    #[command(flatten)]
    common: Common,
    /// This worker's number and the number of workers (each takes every n-th account).
    #[arg(long)]
    worker: usize,
    #[arg(long)]
    workers: usize,
}

#[derive(Args)]
struct FanoutArgs {
    #[command(flatten)]
    common: Common,
    /// The server process; with several nodes, one per node, comma-separated (CPU is summed).
    #[arg(long, value_delimiter = ',', required = true)]
    server_pid: Vec<u32>,
    /// Further nodes of the same cluster: members are spread round-robin over `--host` (node 1)
    /// and these; the sender stays on node 1. Latency is then also split into same-node and
    /// cross-node recipients.
    #[arg(long, value_delimiter = ',')]
    more_hosts: Vec<SocketAddr>,
    /// Receiving members (the sender is one more connection, of member 0's user).
    #[arg(long, default_value_t = 1000)]
    members: usize,
    /// First rate tried, messages per second into the room.
    #[arg(long, default_value_t = 25.0)]
    start_rate: f64,
    /// Rate factor between steps while they pass.
    #[arg(long, default_value_t = 2.0)]
    factor: f64,
    /// Bisection steps between the last pass and the first failure.
    #[arg(long, default_value_t = 2)]
    bisect: u32,
    /// Most steps of the search.
    #[arg(long, default_value_t = 12)]
    max_steps: u32,
    /// Seconds of sending per step.
    #[arg(long, default_value_t = 3.0)]
    step_secs: f64,
    /// Seconds of the half-rate latency run.
    #[arg(long, default_value_t = 5.0)]
    latency_secs: f64,
    /// Also measure latency at this rate (the same load for every server).
    #[arg(long)]
    same_rate: Option<f64>,
    /// p99 limit per recipient, ms.
    #[arg(long, default_value_t = 100.0)]
    p99_limit_ms: f64,
    /// Message body length in bytes.
    #[arg(long, default_value_t = 100)]
    body: usize,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct DmArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    server_pid: u32,
    /// Dm pairs; both sides send.
    #[arg(long, default_value_t = 500)]
    pairs: usize,
    /// Open loop: messages per second in total. Without it: closed loop with `--window`.
    #[arg(long)]
    rate: Option<f64>,
    /// Closed loop: sends in flight per connection.
    #[arg(long, default_value_t = 4)]
    window: usize,
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Wait after every connection is open, before sending (connect-time traffic such as presence
    /// settles).
    #[arg(long, default_value_t = 1.5)]
    warmup_secs: f64,
    /// Also measure the CPU use of this process (the Redis server both servers write to).
    #[arg(long)]
    redis_pid: Option<u32>,
    /// Sample `/metrics` (chat): write-buffer depth and sync lag, during and after the run.
    #[arg(long)]
    metrics: bool,
    /// Longest wait for the buffer to drain after the run.
    #[arg(long, default_value_t = 60)]
    drain_secs: u64,
    #[arg(long, default_value_t = 100)]
    body: usize,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct StormArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    server_pid: u32,
    /// Users reconnecting: the first N of the setup (all in its `fan_room`, paired in its `dms`).
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Sockets per user (devices); all of them are opened at once.
    #[arg(long, default_value_t = 2)]
    devices: usize,
    /// Messages per second into the fan room from one extra socket of user 0 (connected and
    /// settled before the storm), from `--lead-secs` before the storm until the end of sending.
    #[arg(long, default_value_t = 20.0)]
    room_rate: f64,
    /// Messages per second per storm socket into its dm, from its `hello` until the end of sending.
    #[arg(long, default_value_t = 1.0)]
    dm_rate: f64,
    /// Seconds of sending from the start of the storm.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// The room sender starts this long before the storm.
    #[arg(long, default_value_t = 1.0)]
    lead_secs: f64,
    /// Longest wait, from the start of the storm, for every socket's first `hello`.
    #[arg(long, default_value_t = 30.0)]
    connect_secs: f64,
    /// Pause before a socket that failed (or was dropped) tries again, plus up to as much again,
    /// spread over the sockets.
    #[arg(long, default_value_t = 250)]
    retry_ms: u64,
    /// Presence is checked once no presence frame arrived for this long (and every send is
    /// answered) ...
    #[arg(long, default_value_t = 1000)]
    quiet_ms: u64,
    /// ... or after this long at most.
    #[arg(long, default_value_t = 15.0)]
    quiet_max_secs: f64,
    #[arg(long, default_value_t = 100)]
    body: usize,
    #[arg(long)]
    out: PathBuf,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.cmd {
            Cmd::Setup(a) => setup(a).await,
            Cmd::Idle(a) => bounded(a.common.max_secs, idle(a)).await,
            Cmd::IdleWorker(a) => bounded(a.common.max_secs, idle_worker(a)).await,
            Cmd::Fanout(a) => bounded(a.common.max_secs, fanout(a)).await,
            Cmd::Dm(a) => bounded(a.common.max_secs, dm(a)).await,
            Cmd::Storm(a) => bounded(a.common.max_secs, storm(a)).await,
            Cmd::FreePort => {
                let l = std::net::TcpListener::bind("127.0.0.1:0")?;
                println!("{}", l.local_addr()?.port());
                Ok(())
            }
        }
    })?;
    // Connection tasks may still be parked on sockets: do not wait for them.
    rt.shutdown_timeout(Duration::from_millis(500));
    Ok(())
}

async fn bounded(secs: u64, work: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    tokio::time::timeout(Duration::from_secs(secs), work)
        .await
        .map_err(|_| anyhow!("gave up after --max-secs {secs}"))?
}

fn write_json(path: &PathBuf, value: &impl Serialize) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(value)?)
        .with_context(|| format!("write {}", path.display()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Histograms sharded by connection, so that tasks on different threads rarely share a lock.
struct Shards(Vec<Mutex<Histogram<u64>>>);

impl Shards {
    fn new(n: usize) -> Result<Self> {
        Ok(Self(
            (0..n.max(1))
                .map(|_| histogram().map(Mutex::new))
                .collect::<Result<_>>()?,
        ))
    }

    fn record(&self, key: usize, us: u64) {
        lock(&self.0[key % self.0.len()]).saturating_record(us.max(1));
    }

    fn merged(&self) -> Result<Histogram<u64>> {
        let mut all = histogram()?;
        for s in &self.0 {
            all.add(&*lock(s))?;
        }
        Ok(all)
    }
}

fn who(setup: &Setup, user: usize) -> Who {
    let a = &setup.users[user % setup.users.len()];
    Who {
        token: a.token.clone(),
        name: a.name.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// setup
// ---------------------------------------------------------------------------------------------

async fn setup(a: SetupArgs) -> Result<()> {
    let started = Instant::now();
    let tag = format!("{:x}", now_us() % 0xff_ffff);
    let s = bench::setup::create(
        a.http.trim_end_matches('/'),
        &tag,
        a.users,
        a.idle,
        a.parallel,
    )
    .await?;
    write_json(&a.out, &s)?;
    eprintln!(
        "setup: {} users, {} idle users, fan room {}, {} dms in {:.1}s",
        s.users.len(),
        s.idle.len(),
        s.fan_room,
        s.dms.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scenario 1: idle connections
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct IdleStep {
    target: usize,
    open: usize,
    failed: usize,
    rss_kb: u64,
    /// (RSS now - RSS before any connection) / open connections.
    per_conn_bytes: f64,
    /// (RSS now - RSS at the previous step) / connections added.
    marginal_bytes: f64,
    secs_to_open: f64,
}

#[derive(Serialize, Deserialize)]
struct IdleResult {
    proto: Proto,
    baseline_rss_kb: u64,
    procs: usize,
    steps: Vec<IdleStep>,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

async fn idle(a: IdleArgs) -> Result<()> {
    a.common.check()?;
    let top = a.steps.iter().copied().max().unwrap_or(0);
    let procs = top.div_ceil(a.per_proc.max(1)).max(1);
    let exe = std::env::current_exe()?;
    let mut workers = Vec::new();
    for i in 0..procs {
        let mut cmd = Command::new(&exe);
        cmd.arg("idle-worker")
            .args([
                "--proto",
                a.common.proto.name(),
                "--host",
                &a.common.host.to_string(),
            ])
            .args([
                "--sources",
                &a.common.sources.to_string(),
                "--max-secs",
                &a.common.max_secs.to_string(),
            ])
            .args(["--worker", &i.to_string(), "--workers", &procs.to_string()]);
        if let Some(s) = &a.common.setup {
            cmd.arg("--setup").arg(s);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take().context("worker stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("worker stdout")?);
        workers.push(Worker {
            child,
            stdin,
            stdout,
        });
    }
    let baseline = procfs::rss_kb(a.server_pid)?;
    let mut steps = Vec::new();
    let mut prev_rss = baseline;
    let mut prev_open = 0usize;
    for &target in &a.steps {
        let started = Instant::now();
        // Tell every worker its share, then collect the answers (they open in parallel).
        let per = target / procs;
        let extra = target % procs;
        let mut ws = std::mem::take(&mut workers);
        let results = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for (i, w) in ws.iter_mut().enumerate() {
                let share = per + usize::from(i < extra);
                writeln!(w.stdin, "open {share}")?;
                w.stdin.flush()?;
            }
            for w in ws.iter_mut() {
                let mut line = String::new();
                w.stdout.read_line(&mut line)?;
                let mut parts = line
                    .split_whitespace()
                    .skip(1)
                    .map(|v| v.parse::<usize>().unwrap_or(0));
                out.push((parts.next().unwrap_or(0), parts.next().unwrap_or(0)));
            }
            Ok::<_, anyhow::Error>((ws, out))
        })
        .await??;
        workers = results.0;
        let open: usize = results.1.iter().map(|r| r.0).sum();
        let failed: usize = results.1.iter().map(|r| r.1).sum();
        let secs_to_open = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(a.settle_ms)).await;
        let rss = procfs::rss_kb(a.server_pid)?;
        let per_conn = (rss.saturating_sub(baseline) as f64 * 1024.0) / open.max(1) as f64;
        let marginal =
            (rss as f64 - prev_rss as f64) * 1024.0 / (open as f64 - prev_open as f64).max(1.0);
        eprintln!(
            "idle {}: {open}/{target} open ({failed} failed) in {secs_to_open:.1}s, server RSS {rss} KiB, {:.0} B/conn, marginal {:.0} B/conn",
            a.common.proto.name(),
            per_conn,
            marginal
        );
        steps.push(IdleStep {
            target,
            open,
            failed,
            rss_kb: rss,
            per_conn_bytes: per_conn,
            marginal_bytes: marginal,
            secs_to_open,
        });
        prev_rss = rss;
        prev_open = open;
    }
    for mut w in workers {
        drop(w.stdin);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && w.child.try_wait()?.is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if w.child.try_wait()?.is_none() {
            w.child.kill()?;
            w.child.wait()?;
        }
    }
    write_json(
        &a.out,
        &IdleResult {
            proto: a.common.proto,
            baseline_rss_kb: baseline,
            procs,
            steps,
        },
    )
}

async fn idle_worker(a: IdleWorkerArgs) -> Result<()> {
    a.common.check()?;
    let setup = Arc::new(a.common.load_setup(0, 1)?);
    let sources = Arc::new(Sources::loopback(a.common.sources));
    let alive = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut opened = 0usize;
    let mut failed = 0usize;
    let (line_tx, mut lines) = mpsc::channel::<String>(4);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = lines.recv().await {
        let Some(n) = line
            .strip_prefix("open ")
            .and_then(|n| n.trim().parse::<usize>().ok())
        else {
            continue;
        };
        let want = n.saturating_sub(opened);
        let idx0 = opened;
        let results: Vec<bool> = stream::iter(0..want)
            .map(|k| {
                let (setup, sources, alive, stop) = (
                    setup.clone(),
                    sources.clone(),
                    alive.clone(),
                    stop_rx.clone(),
                );
                let (proto, host) = (a.common.proto, a.common.host);
                let global = (idx0 + k) * a.workers + a.worker;
                async move {
                    let acct = &setup.idle[global % setup.idle.len().max(1)];
                    let who = Who {
                        token: acct.token.clone(),
                        name: format!("idle{global}"),
                    };
                    match conn::open(proto, host, sources.next(), &who, None).await {
                        Ok(ws) => {
                            alive.fetch_add(1, Ordering::Relaxed);
                            tokio::spawn(hold(ws, stop, alive));
                            true
                        }
                        Err(e) => {
                            eprintln!("idle worker {}: {e:#}", global);
                            false
                        }
                    }
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        opened += results.len();
        failed += results.iter().filter(|ok| !**ok).count();
        println!("ok {} {}", alive.load(Ordering::Relaxed), failed);
        std::io::stdout().flush()?;
    }
    let _ = stop_tx.send(true);
    Ok(())
}

/// Keeps an idle connection open: reads (tungstenite answers WebSocket pings by itself) and
/// answers Engine.IO pings, until told to stop.
async fn hold(mut ws: Ws, mut stop: watch::Receiver<bool>, alive: Arc<AtomicUsize>) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) if t == "2" => {
                    if ws.send(Message::Text("3".into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    }
    alive.fetch_sub(1, Ordering::Relaxed);
    let _ = ws.close(None).await;
}

// ---------------------------------------------------------------------------------------------
// Scenarios 2 and 3: fan-out
// ---------------------------------------------------------------------------------------------

/// What one step of the fan-out measures.
struct Step {
    id: u32,
    sent_us: Vec<AtomicU64>,
    counts: Vec<AtomicU32>,
    last_us: Vec<AtomicU64>,
    recipient: Shards,
    /// Recipients connected to the sender's node, and to the other nodes.
    same_node: Shards,
    cross_node: Shards,
    received: AtomicU64,
}

impl Step {
    fn new(id: u32, cap: usize) -> Result<Self> {
        Ok(Self {
            id,
            sent_us: (0..cap).map(|_| AtomicU64::new(0)).collect(),
            counts: (0..cap).map(|_| AtomicU32::new(0)).collect(),
            last_us: (0..cap).map(|_| AtomicU64::new(0)).collect(),
            recipient: Shards::new(32)?,
            same_node: Shards::new(32)?,
            cross_node: Shards::new(32)?,
            received: AtomicU64::new(0),
        })
    }
}

struct Fan {
    current: RwLock<Option<Arc<Step>>>,
    /// Nodes the members are spread over (member `i` is on node `i % nodes`; the sender on 0).
    nodes: usize,
    alive: AtomicUsize,
    frames: AtomicU64,
    stray: AtomicU64,
    reconnects: AtomicU64,
    connect_errors: AtomicU64,
}

impl Fan {
    fn on_text(&self, idx: usize, text: &str) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        let Some((step, n, sent)) = marker::parse(text) else {
            return;
        };
        let now = now_us();
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        match current.as_ref() {
            Some(s) if s.id == step && (n as usize) < s.counts.len() => {
                s.counts[n as usize].fetch_add(1, Ordering::Relaxed);
                s.last_us[n as usize].fetch_max(now, Ordering::Relaxed);
                s.received.fetch_add(1, Ordering::Relaxed);
                let us = now.saturating_sub(sent);
                s.recipient.record(idx, us);
                if idx.is_multiple_of(self.nodes.max(1)) {
                    s.same_node.record(idx, us);
                } else {
                    s.cross_node.record(idx, us);
                }
            }
            _ => {
                self.stray.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn set_step(&self, step: Option<Arc<Step>>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = step;
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StepResult {
    label: String,
    rate: f64,
    secs: f64,
    sent: u64,
    expected: u64,
    received: u64,
    lost: u64,
    deliveries_per_sec: f64,
    recipient: Latency,
    /// Per recipient on the sender's node / on another node (count 0: one node only).
    same_node: Latency,
    cross_node: Latency,
    last_recipient: Latency,
    server_cores: Option<f64>,
    generator_cores: Option<f64>,
    members_connected: usize,
    /// Why the sender's socket failed during the step (the server closed or reset it, as it
    /// may when overloaded): the step fails, and the sender connects again for the next one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sender_failed: Option<String>,
    pass: bool,
}

#[derive(Serialize, Deserialize)]
struct FanoutResult {
    proto: Proto,
    nodes: usize,
    members: usize,
    p99_limit_ms: f64,
    connect_secs: f64,
    steps: Vec<StepResult>,
    best: Option<StepResult>,
    half: Option<StepResult>,
    same: Option<StepResult>,
    reconnects: u64,
    connect_errors: u64,
}

enum SenderCmd {
    Run {
        step: Arc<Step>,
        rate: f64,
        secs: f64,
        done: oneshot::Sender<Sent>,
    },
}

/// What the sender did in a step: the messages it sent, and why its socket failed if it did.
struct Sent {
    count: u64,
    failed: Option<String>,
}

/// Where and as whom the fan-out's sender connects (again, after its socket failed).
struct SenderLink {
    proto: Proto,
    host: SocketAddr,
    sources: Arc<Sources>,
    who: Who,
    room: String,
}

impl SenderLink {
    /// A connection, tried up to 5 times a second apart: after a connect burst or an overload
    /// a server may still answer "try again" (chat-sio: a token lookup that timed out waiting
    /// for a database connection).
    async fn open(&self) -> Result<Ws> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let to = self.sources.next();
            match conn::open(self.proto, self.host, to, &self.who, Some(&self.room)).await {
                Ok(ws) => return Ok(ws),
                Err(e) if attempt < 5 => {
                    eprintln!("fanout: sender connect attempt {attempt}: {e:#}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e.context("sender connect")),
            }
        }
    }
}

async fn fanout(a: FanoutArgs) -> Result<()> {
    a.common.check()?;
    let setup = Arc::new(a.common.load_setup(a.members, 0)?);
    if setup.users.len() < a.members {
        bail!(
            "the setup has {} users, {} members asked",
            setup.users.len(),
            a.members
        );
    }
    let room = setup.fan_room.clone();
    let sources = Arc::new(Sources::loopback(a.common.sources));
    let hosts: Vec<SocketAddr> = std::iter::once(a.common.host)
        .chain(a.more_hosts.iter().copied())
        .collect();
    if let Some(h) = hosts.iter().find(|h| !h.ip().is_loopback()) {
        bail!("only loopback targets may be load-tested, not {h}");
    }
    let fan = Arc::new(Fan {
        current: RwLock::new(None),
        nodes: hosts.len(),
        alive: AtomicUsize::new(0),
        frames: AtomicU64::new(0),
        stray: AtomicU64::new(0),
        reconnects: AtomicU64::new(0),
        connect_errors: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for idx in 0..a.members {
        let (fan, sources, stop, room, who) = (
            fan.clone(),
            sources.clone(),
            stop_rx.clone(),
            room.clone(),
            who(&setup, idx),
        );
        let (proto, host) = (a.common.proto, hosts[idx % hosts.len()]);
        tasks.push(tokio::spawn(async move {
            member(fan, idx, proto, host, sources, who, room, stop).await
        }));
        // Do not flood the accept queue.
        if idx % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let ready = wait_members(&fan, a.members, Duration::from_secs(60)).await;
    let connect_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "fanout {}: {ready}/{} members connected over {} node(s) in {connect_secs:.1}s",
        a.common.proto.name(),
        a.members,
        hosts.len()
    );
    // The sender: one more connection of member 0's user, on node 1.
    let link = SenderLink {
        proto: a.common.proto,
        host: a.common.host,
        sources: sources.clone(),
        who: who(&setup, 0),
        room: room.clone(),
    };
    let sender_ws = link.open().await?;
    let (cmd_tx, cmd_rx) = mpsc::channel(1);
    let tag = format!("{:x}", now_us() % 0xffff_ffff);
    let sender_task = tokio::spawn(sender(link, sender_ws, cmd_rx, a.body, tag));

    let mut steps = Vec::new();
    let mut next_id = 1u32;
    let mut run = |rate: f64, secs: f64, label: &str| {
        let id = next_id;
        next_id += 1;
        let (fan, cmd_tx, label) = (fan.clone(), cmd_tx.clone(), label.to_owned());
        let (members, pids, limit) = (a.members, a.server_pid.clone(), a.p99_limit_ms);
        async move { run_step(&fan, &cmd_tx, id, rate, secs, members, &pids, limit, label).await }
    };

    // Search upward: multiply while steps pass, then bisect between the last pass and the first
    // failure. If the first rate already fails, go down instead.
    let mut best: Option<StepResult> = None;
    let mut fail_rate: Option<f64> = None;
    let mut rate = a.start_rate;
    let mut n = 0;
    while n < a.max_steps {
        n += 1;
        let mut r = run(rate, a.step_secs, "search").await?;
        log_step(a.common.proto, &r);
        steps.push(r.clone());
        if !r.pass {
            // A failure is confirmed once: a single stall on this shared machine must not end
            // the search.
            r = run(rate, a.step_secs, "search, again").await?;
            log_step(a.common.proto, &r);
            steps.push(r.clone());
        }
        if r.pass {
            best = Some(r);
            if fail_rate.is_some() {
                break;
            }
            rate *= a.factor;
        } else {
            fail_rate = Some(rate);
            if best.is_some() {
                break;
            }
            rate /= a.factor;
            if rate < 1.0 {
                break;
            }
        }
    }
    if let (Some(fail), true) = (fail_rate, best.is_some()) {
        let mut lo = best.as_ref().map(|b| b.rate).unwrap_or(0.0);
        let mut hi = fail;
        for _ in 0..a.bisect {
            let mid = (lo * hi).sqrt();
            let mut r = run(mid, a.step_secs, "bisect").await?;
            log_step(a.common.proto, &r);
            steps.push(r.clone());
            if !r.pass {
                r = run(mid, a.step_secs, "bisect, again").await?;
                log_step(a.common.proto, &r);
                steps.push(r.clone());
            }
            if r.pass {
                lo = mid;
                if best
                    .as_ref()
                    .is_none_or(|b| r.deliveries_per_sec > b.deliveries_per_sec)
                {
                    best = Some(r);
                }
            } else {
                hi = mid;
            }
        }
    }
    let half = match &best {
        Some(b) => {
            let r = run(b.rate / 2.0, a.latency_secs, "half rate").await?;
            log_step(a.common.proto, &r);
            Some(r)
        }
        None => None,
    };
    let same = match a.same_rate {
        Some(rate) => {
            let r = run(rate, a.latency_secs, "same load").await?;
            log_step(a.common.proto, &r);
            Some(r)
        }
        None => None,
    };
    let _ = stop_tx.send(true);
    drop(cmd_tx);
    let _ = tokio::time::timeout(Duration::from_secs(5), sender_task).await;
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    let result = FanoutResult {
        proto: a.common.proto,
        nodes: hosts.len(),
        members: a.members,
        p99_limit_ms: a.p99_limit_ms,
        connect_secs,
        steps,
        best,
        half,
        same,
        reconnects: fan.reconnects.load(Ordering::Relaxed),
        connect_errors: fan.connect_errors.load(Ordering::Relaxed),
    };
    write_json(&a.out, &result)
}

fn log_step(proto: Proto, r: &StepResult) {
    let split = if r.cross_node.count > 0 {
        format!(
            " (same node p50 {:.1} p99 {:.1}, cross-node p50 {:.1} p99 {:.1})",
            r.same_node.p50_ms, r.same_node.p99_ms, r.cross_node.p50_ms, r.cross_node.p99_ms
        )
    } else {
        String::new()
    };
    eprintln!(
        "fanout {} [{}] {:.0} msg/s: {}/{} delivered ({} lost), {:.0} deliveries/s, recipient p50 {:.1} p99 {:.1} ms{split}, last p99 {:.1} ms, server {:.2} cores, generator {:.2} cores, {}",
        proto.name(),
        r.label,
        r.rate,
        r.received,
        r.expected,
        r.lost,
        r.deliveries_per_sec,
        r.recipient.p50_ms,
        r.recipient.p99_ms,
        r.last_recipient.p99_ms,
        r.server_cores.unwrap_or(f64::NAN),
        r.generator_cores.unwrap_or(f64::NAN),
        if r.pass { "pass" } else { "FAIL" }
    );
}

async fn wait_members(fan: &Fan, members: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    while fan.alive.load(Ordering::Relaxed) < members && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fan.alive.load(Ordering::Relaxed)
}

/// Waits until no frame arrived for `quiet` (the server has drained), at most `limit`.
async fn wait_quiet(fan: &Fan, quiet: Duration, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut last = fan.frames.load(Ordering::Relaxed);
    let mut since = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = fan.frames.load(Ordering::Relaxed);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_step(
    fan: &Arc<Fan>,
    cmd_tx: &mpsc::Sender<SenderCmd>,
    id: u32,
    rate: f64,
    secs: f64,
    members: usize,
    server_pids: &[u32],
    p99_limit_ms: f64,
    label: String,
) -> Result<StepResult> {
    wait_members(fan, members, Duration::from_secs(30)).await;
    wait_quiet(fan, Duration::from_millis(300), Duration::from_secs(15)).await;
    let cap = (rate * secs).ceil() as usize + 1;
    let step = Arc::new(Step::new(id, cap)?);
    fan.set_step(Some(step.clone()));
    let server_cpu: Vec<CpuMeter> = server_pids
        .iter()
        .map(|pid| CpuMeter::start(&pid.to_string()))
        .collect();
    let gen_cpu = CpuMeter::start("self");
    let t0 = Instant::now();
    let (done_tx, done_rx) = oneshot::channel();
    cmd_tx
        .send(SenderCmd::Run {
            step: step.clone(),
            rate,
            secs,
            done: done_tx,
        })
        .await
        .map_err(|_| anyhow!("sender gone"))?;
    let Sent {
        count: sent,
        failed: sender_failed,
    } = done_rx.await.map_err(|_| anyhow!("sender gone"))?;
    if let Some(why) = &sender_failed {
        eprintln!("fanout: the sender's socket failed during the step ({why}): a failed step");
    }
    let send_secs = t0.elapsed().as_secs_f64();
    let expected = sent * members as u64;
    // Grace for the tail: at most 2 s (far beyond the 100 ms p99 a pass needs).
    let deadline = Instant::now() + Duration::from_secs(2);
    while step.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Summed over the nodes (None if any could not be read).
    let server_cores = server_cpu.iter().map(CpuMeter::cores).sum();
    let generator_cores = gen_cpu.cores();
    fan.set_step(None);
    let received = step.received.load(Ordering::Relaxed);
    let recipient = Latency::of(&step.recipient.merged()?);
    let mut last = histogram()?;
    for n in 0..sent as usize {
        if step.counts[n].load(Ordering::Relaxed) as usize >= members {
            let d = step.last_us[n]
                .load(Ordering::Relaxed)
                .saturating_sub(step.sent_us[n].load(Ordering::Relaxed));
            last.saturating_record(d.max(1));
        }
    }
    let lost = expected.saturating_sub(received);
    let members_connected = fan.alive.load(Ordering::Relaxed);
    let pass = lost == 0
        && sent > 0
        && sender_failed.is_none()
        && recipient.p99_ms <= p99_limit_ms
        && members_connected >= members;
    Ok(StepResult {
        label,
        rate,
        secs: send_secs,
        sent,
        expected,
        received,
        lost,
        deliveries_per_sec: received as f64 / send_secs.max(1e-6),
        recipient,
        same_node: Latency::of(&step.same_node.merged()?),
        cross_node: Latency::of(&step.cross_node.merged()?),
        last_recipient: Latency::of(&last),
        server_cores,
        generator_cores,
        members_connected,
        sender_failed,
        pass,
    })
}

#[allow(clippy::too_many_arguments)]
async fn member(
    fan: Arc<Fan>,
    idx: usize,
    proto: Proto,
    host: SocketAddr,
    sources: Arc<Sources>,
    who: Who,
    room: String,
    mut stop: watch::Receiver<bool>,
) {
    let mut first = true;
    while !*stop.borrow() {
        if !first {
            fan.reconnects.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        first = false;
        let mut ws = match conn::open(proto, host, sources.next(), &who, Some(&room)).await {
            Ok(ws) => ws,
            Err(e) => {
                if fan.connect_errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("member {idx}: {e:#}");
                }
                continue;
            }
        };
        fan.alive.fetch_add(1, Ordering::Relaxed);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                m = ws.next() => match m {
                    Some(Ok(Message::Text(t))) => {
                        if t == "2" && ws.send(Message::Text("3".into())).await.is_err() {
                            break;
                        }
                        fan.on_text(idx, &t);
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                }
            }
        }
        fan.alive.fetch_sub(1, Ordering::Relaxed);
        let _ = ws.close(None).await;
    }
}

/// The fan-out's sender: runs each step's sends on its socket, answering pings between steps.
/// When the socket fails (the server may close or reset it when overloaded), the step that saw
/// it fails and the next one starts on a new connection.
async fn sender(
    link: SenderLink,
    ws: Ws,
    mut cmds: mpsc::Receiver<SenderCmd>,
    body_len: usize,
    tag: String,
) {
    let errors = AtomicU64::new(0);
    let (proto, room) = (link.proto, link.room.clone());
    let mut socket = Some(ws);
    loop {
        // Between steps: answer pings until the next step, or connect for it if the socket
        // failed.
        let cmd = match socket.as_mut() {
            None => cmds.recv().await,
            Some(ws) => tokio::select! {
                cmd = cmds.recv() => cmd,
                m = ws.next() => {
                    let alive = match m {
                        Some(Ok(Message::Text(t))) => sender_frame(ws, &t, &errors).await,
                        Some(Ok(Message::Close(c))) => {
                            eprintln!("fanout: the server closed the sender's socket: {c:?}");
                            false
                        }
                        Some(Err(e)) => {
                            eprintln!("fanout: the sender's socket failed: {e}");
                            false
                        }
                        None => false,
                        Some(Ok(_)) => true,
                    };
                    if !alive {
                        socket = None;
                    }
                    continue;
                }
            },
        };
        let Some(SenderCmd::Run {
            step,
            rate,
            secs,
            done,
        }) = cmd
        else {
            break;
        };
        let mut ws = match socket.take() {
            Some(ws) => ws,
            None => match link.open().await {
                Ok(ws) => ws,
                Err(e) => {
                    let _ = done.send(Sent {
                        count: 0,
                        failed: Some(format!("{e:#}")),
                    });
                    continue;
                }
            },
        };
        let sent = send_at_rate(
            &mut ws, proto, &room, &step, rate, secs, body_len, &tag, &errors,
        )
        .await;
        if sent.failed.is_none() {
            socket = Some(ws);
        }
        let _ = done.send(sent);
    }
    if let Some(mut ws) = socket {
        let _ = ws.close(None).await;
    }
}

/// Handles a frame the sender received; false when the socket must be given up.
async fn sender_frame(ws: &mut Ws, t: &str, errors: &AtomicU64) -> bool {
    if t == "2" {
        return ws.send(Message::Text("3".into())).await.is_ok();
    }
    let error = t.starts_with("{\"type\":\"error\"") || t.starts_with("42[\"error\"");
    if error && errors.fetch_add(1, Ordering::Relaxed) < 5 {
        eprintln!("sender got {t}");
    }
    true
}

/// Sends `rate` messages a second for `secs` seconds (at most what `step` can record); stops at
/// the first socket failure, saying why.
#[allow(clippy::too_many_arguments)]
async fn send_at_rate(
    ws: &mut Ws,
    proto: Proto,
    room: &str,
    step: &Step,
    rate: f64,
    secs: f64,
    body_len: usize,
    tag: &str,
    errors: &AtomicU64,
) -> Sent {
    let total = ((rate * secs).round() as usize).clamp(1, step.counts.len()) as u64;
    let start = tokio::time::Instant::now();
    let due = |n: u64| start + Duration::from_secs_f64(n as f64 / rate);
    let mut n = 0u64;
    let failed = |n: u64, why: String| Sent {
        count: n,
        failed: Some(why),
    };
    while n < total {
        loop {
            tokio::select! {
                biased;
                _ = tokio::time::sleep_until(due(n)) => break,
                m = ws.next() => match m {
                    Some(Ok(Message::Text(t))) => {
                        if !sender_frame(ws, &t, errors).await {
                            return failed(n, "could not answer a ping".into());
                        }
                    }
                    Some(Ok(Message::Close(c))) => return failed(n, format!("closed by the server: {c:?}")),
                    None => return failed(n, "connection ended".into()),
                    Some(Err(e)) => return failed(n, e.to_string()),
                    Some(Ok(_)) => {}
                }
            }
        }
        let now = tokio::time::Instant::now();
        while n < total && due(n) <= now {
            let us = now_us();
            step.sent_us[n as usize].store(us, Ordering::Relaxed);
            let body = marker::body(step.id, n, us, body_len);
            let frame =
                conn::send_frame(proto, room, &format!("f{tag}-{}-{n}", step.id), &body, None);
            if let Err(e) = ws.feed(Message::Text(frame)).await {
                return failed(n, e.to_string());
            }
            n += 1;
        }
        if let Err(e) = ws.flush().await {
            return failed(n, e.to_string());
        }
    }
    Sent {
        count: n,
        failed: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario 4: one-to-one traffic across many dms
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct SyncStats {
    max_depth: i64,
    max_lag_secs: f64,
    /// Depth and lag when sending stopped.
    depth_at_end: i64,
    lag_at_end_secs: f64,
    /// From the end of sending until the buffer was empty (None: not within --drain-secs).
    drain_secs: Option<f64>,
    /// Rows the Syncer copied into SQL per second, from the first send until drained.
    sql_rows_per_sec: f64,
    /// (seconds since start, depth, lag seconds)
    samples: Vec<(f64, i64, f64)>,
}

#[derive(Serialize, Deserialize)]
struct DmResult {
    proto: Proto,
    mode: String,
    conns: usize,
    rate: Option<f64>,
    window: Option<usize>,
    secs: f64,
    #[serde(default)]
    warmup_secs: f64,
    sent: u64,
    acked: u64,
    /// Acks received while sending (closed loop: the sustained rate).
    acked_in_window: u64,
    acked_per_sec: f64,
    errors: BTreeMap<String, u64>,
    ack: Latency,
    delivery: Latency,
    /// Delivery p50 minus ack p50 (ms): how long after its ack the other member gets a message,
    /// at the median (issue 17: within 1 ms).
    #[serde(default)]
    delivery_minus_ack_p50_ms: Option<f64>,
    server_cores: Option<f64>,
    generator_cores: Option<f64>,
    redis_cores: Option<f64>,
    sync: Option<SyncStats>,
}

struct DmShared {
    sent: AtomicU64,
    acked: AtomicU64,
    ack: Shards,
    delivery: Shards,
    errors: Mutex<BTreeMap<String, u64>>,
    sending: AtomicBool,
}

impl DmShared {
    fn error(&self, code: &str) {
        *lock(&self.errors).entry(code.to_owned()).or_default() += 1;
    }
}

async fn dm(a: DmArgs) -> Result<()> {
    a.common.check()?;
    let setup = Arc::new(a.common.load_setup(a.pairs * 2, 0)?);
    if setup.dms.len() < a.pairs {
        bail!(
            "the setup has {} dms, {} pairs asked",
            setup.dms.len(),
            a.pairs
        );
    }
    let conns = a.pairs * 2;
    let sources = Sources::loopback(a.common.sources);
    let proto = a.common.proto;
    // Connect everyone first.
    let opened: Vec<Result<(usize, Ws)>> = stream::iter(0..conns)
        .map(|i| {
            let dmroom = setup.dms[i / 2].room.clone();
            let user = if i % 2 == 0 {
                setup.dms[i / 2].a
            } else {
                setup.dms[i / 2].b
            };
            let who = who(&setup, user);
            let src = sources.next();
            async move {
                conn::open(proto, a.common.host, src, &who, Some(&dmroom))
                    .await
                    .map(|ws| (i, ws))
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut sockets = Vec::new();
    for r in opened {
        sockets.push(r?);
    }
    sockets.sort_by_key(|(i, _)| *i);
    // Let connect-time traffic (presence) settle.
    tokio::time::sleep(Duration::from_secs_f64(a.warmup_secs.max(0.0))).await;
    let shared = Arc::new(DmShared {
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        ack: Shards::new(32)?,
        delivery: Shards::new(32)?,
        errors: Mutex::new(BTreeMap::new()),
        sending: AtomicBool::new(true),
    });
    let metrics = if a.metrics && proto == Proto::Chat {
        Some(spawn_metrics(a.common.host))
    } else {
        None
    };
    let server_cpu = CpuMeter::start(&a.server_pid.to_string());
    let gen_cpu = CpuMeter::start("self");
    let redis_cpu = a.redis_pid.map(|pid| CpuMeter::start(&pid.to_string()));
    let tag = format!("{:x}", now_us() % 0xffff_ffff);
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let end = start + Duration::from_secs_f64(a.secs);
    let mut tasks = Vec::new();
    for (i, ws) in sockets {
        let room = setup.dms[i / 2].room.clone();
        let plan = match a.rate {
            Some(rate) => {
                let per = rate / conns as f64;
                Plan::Open {
                    per_sec: per,
                    offset: Duration::from_secs_f64(i as f64 / conns as f64 / per),
                }
            }
            None => Plan::Closed {
                window: a.window.max(1),
            },
        };
        let (shared, tag) = (shared.clone(), tag.clone());
        tasks.push(tokio::spawn(dm_conn(
            proto, ws, i, room, plan, start, end, a.body, tag, shared,
        )));
    }
    tokio::time::sleep_until(end).await;
    let acked_in_window = shared.acked.load(Ordering::Relaxed);
    shared.sending.store(false, Ordering::Relaxed);
    let server_cores = server_cpu.cores();
    let generator_cores = gen_cpu.cores();
    let redis_cores = redis_cpu.as_ref().and_then(CpuMeter::cores);
    let end_us = now_us();
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(15), t).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => shared.error(&format!("connection: {e}")),
            Ok(Err(e)) => shared.error(&format!("task: {e}")),
            Err(_) => shared.error("acks still missing after 15 s"),
        }
    }
    let sync = match metrics {
        Some((stop, handle)) => {
            let drained = wait_drained(a.common.host, Duration::from_secs(a.drain_secs)).await;
            let _ = stop.send(true);
            let samples = handle.await.unwrap_or_default();
            Some(sync_stats(samples, end_us, drained))
        }
        None => None,
    };
    let sent = shared.sent.load(Ordering::Relaxed);
    let acked = shared.acked.load(Ordering::Relaxed);
    let ack = Latency::of(&shared.ack.merged()?);
    let delivery = Latency::of(&shared.delivery.merged()?);
    let delivery_minus_ack_p50_ms =
        (ack.count > 0 && delivery.count > 0).then_some(delivery.p50_ms - ack.p50_ms);
    let result = DmResult {
        proto,
        mode: if a.rate.is_some() {
            "open".into()
        } else {
            "closed".into()
        },
        conns,
        rate: a.rate,
        window: a.rate.is_none().then_some(a.window),
        secs: a.secs,
        warmup_secs: a.warmup_secs,
        sent,
        acked,
        acked_in_window,
        acked_per_sec: acked_in_window as f64 / a.secs,
        errors: lock(&shared.errors).clone(),
        ack,
        delivery,
        delivery_minus_ack_p50_ms,
        server_cores,
        generator_cores,
        redis_cores,
        sync,
    };
    eprintln!(
        "dm {} {}: sent {sent}, acked {acked} ({:.0}/s), ack p50 {:.2} p99 {:.2} ms, delivery p50 {:.2} p99 {:.2} ms (delivery p50 - ack p50 {:.2} ms), errors {:?}, server {:.2} cores, redis {:.2} cores{}",
        proto.name(),
        result.mode,
        result.acked_per_sec,
        result.ack.p50_ms,
        result.ack.p99_ms,
        result.delivery.p50_ms,
        result.delivery.p99_ms,
        result.delivery_minus_ack_p50_ms.unwrap_or(f64::NAN),
        result.errors,
        server_cores.unwrap_or(f64::NAN),
        redis_cores.unwrap_or(f64::NAN),
        result
            .sync
            .as_ref()
            .map(|s| format!(
                ", sync: max lag {:.2}s, max depth {}, drained {:?}s after the end",
                s.max_lag_secs, s.max_depth, s.drain_secs
            ))
            .unwrap_or_default()
    );
    write_json(&a.out, &result)
}

#[derive(Clone, Copy)]
enum Plan {
    Open { per_sec: f64, offset: Duration },
    Closed { window: usize },
}

#[allow(clippy::too_many_arguments)]
async fn dm_conn(
    proto: Proto,
    mut ws: Ws,
    idx: usize,
    room: String,
    plan: Plan,
    start: tokio::time::Instant,
    end: tokio::time::Instant,
    body_len: usize,
    tag: String,
    shared: Arc<DmShared>,
) -> Result<()> {
    let mut n = 0u64;
    let mut in_flight = 0usize;
    let mut sio_pending: HashMap<u64, u64> = HashMap::new();
    let due = |n: u64| match plan {
        Plan::Open { per_sec, offset } => {
            start + offset + Duration::from_secs_f64(n as f64 / per_sec)
        }
        Plan::Closed { .. } => start,
    };
    let window = match plan {
        Plan::Open { .. } => usize::MAX,
        Plan::Closed { window } => window,
    };
    loop {
        let now = tokio::time::Instant::now();
        let sending = now < end;
        // Send everything due.
        let mut fed = false;
        while sending && in_flight < window && due(n) <= now {
            let us = now_us();
            let body = marker::body(idx as u32, n, us, body_len);
            let client_id = format!("d{us}.{tag}.{idx}.{n}");
            let ack_id = proto.is_sio().then(|| {
                sio_pending.insert(n, us);
                n
            });
            ws.feed(Message::Text(conn::send_frame(
                proto, &room, &client_id, &body, ack_id,
            )))
            .await?;
            shared.sent.fetch_add(1, Ordering::Relaxed);
            n += 1;
            in_flight += 1;
            fed = true;
        }
        if fed {
            ws.flush().await?;
        }
        if !sending && in_flight == 0 {
            break;
        }
        let wake = if sending && in_flight < window {
            due(n).min(end)
        } else {
            end.max(now + Duration::from_secs(15))
        };
        let m = tokio::select! {
            _ = tokio::time::sleep_until(wake) => {
                if !sending {
                    bail!("{in_flight} acks missing");
                }
                continue;
            }
            m = ws.next() => m,
        };
        let t = match m {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(c))) => bail!("closed by the server: {c:?}"),
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection ended"),
            Some(Ok(_)) => continue,
        };
        let now_us = now_us();
        match proto {
            Proto::Chat => {
                if t.starts_with("{\"type\":\"ack\"") {
                    in_flight = in_flight.saturating_sub(1);
                    shared.acked.fetch_add(1, Ordering::Relaxed);
                    if let Some(sent) = chat_ack_sent_us(&t) {
                        shared.ack.record(idx, now_us.saturating_sub(sent));
                    }
                } else if t.starts_with("{\"type\":\"message\"") {
                    record_delivery(&shared, idx, &t, now_us);
                } else if t.starts_with("{\"type\":\"error\"") {
                    let (code, answers_send) = bench::conn::error_frame(&t);
                    shared.error(&code);
                    if answers_send {
                        in_flight = in_flight.saturating_sub(1);
                    }
                }
            }
            Proto::Sio | Proto::ChatSio => {
                if t == "2" {
                    ws.send(Message::Text("3".into())).await?;
                } else if let Some(rest) = t.strip_prefix("43") {
                    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                    if let Some(sent) = digits
                        .parse()
                        .ok()
                        .and_then(|id: u64| sio_pending.remove(&id))
                    {
                        in_flight = in_flight.saturating_sub(1);
                        if rest.contains("\"error\"") {
                            shared.error("error");
                        } else {
                            shared.acked.fetch_add(1, Ordering::Relaxed);
                            shared.ack.record(idx, now_us.saturating_sub(sent));
                        }
                    }
                } else if t.starts_with("42[\"message\"") {
                    record_delivery(&shared, idx, &t, now_us);
                }
            }
            Proto::Ceiling => bail!("the dm scenario needs acks: chat or sio"),
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

/// Delivery latency of a message from the other side of the dm (socket.io echoes one's own).
fn record_delivery(shared: &DmShared, idx: usize, t: &str, now: u64) {
    if let Some((from, _, sent)) = marker::parse(t) {
        if from as usize != idx {
            shared.delivery.record(idx, now.saturating_sub(sent));
        }
    }
}

/// The send time in a chat ack's client id (`d<µs>.<tag>.<conn>.<n>`).
fn chat_ack_sent_us(t: &str) -> Option<u64> {
    let start = t.find("\"client_id\":\"d")? + "\"client_id\":\"d".len();
    let rest = &t[start..];
    rest[..rest.find('.')?].parse().ok()
}

type Sampler = (
    watch::Sender<bool>,
    tokio::task::JoinHandle<Vec<(u64, i64, f64, u64)>>,
);

/// Samples `/metrics` every 200 ms until stopped: (µs, buffer depth, sync lag s, rows synced).
fn spawn_metrics(host: SocketAddr) -> Sampler {
    let (tx, mut rx) = watch::channel(false);
    let handle = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut out = Vec::new();
        loop {
            if let Some((depth, lag, rows)) = read_metrics(&http, host).await {
                out.push((now_us(), depth, lag, rows));
            }
            tokio::select! {
                _ = rx.changed() => break,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
        out
    });
    (tx, handle)
}

async fn read_metrics(http: &reqwest::Client, host: SocketAddr) -> Option<(i64, f64, u64)> {
    let text = http
        .get(format!("http://{host}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |name: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|v| v.strip_prefix(' '))
                .map(|v| v.trim().to_owned())
        })
    };
    Some((
        value("chat_write_buffer_depth")?.parse().ok()?,
        value("chat_sync_lag_seconds")?.parse().ok()?,
        value("chat_sync_rows_total")?.parse().ok()?,
    ))
}

/// Waits until the buffer is empty; the time it became so, in µs.
async fn wait_drained(host: SocketAddr, limit: Duration) -> Option<u64> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some((depth, _, _)) = read_metrics(&http, host).await {
            if depth == 0 {
                return Some(now_us());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn sync_stats(
    samples: Vec<(u64, i64, f64, u64)>,
    end_us: u64,
    drained_us: Option<u64>,
) -> SyncStats {
    let Some(first) = samples.first().copied() else {
        return SyncStats::default();
    };
    let at_end = samples
        .iter()
        .rev()
        .find(|s| s.0 <= end_us)
        .copied()
        .unwrap_or(first);
    let last = samples.last().copied().unwrap_or(first);
    let span = (last.0.saturating_sub(first.0)) as f64 / 1e6;
    SyncStats {
        max_depth: samples.iter().map(|s| s.1).max().unwrap_or(0),
        max_lag_secs: samples.iter().map(|s| s.2).fold(0.0, f64::max),
        depth_at_end: at_end.1,
        lag_at_end_secs: at_end.2,
        drain_secs: drained_us.map(|d| d.saturating_sub(end_us) as f64 / 1e6),
        sql_rows_per_sec: last.3.saturating_sub(first.3) as f64 / span.max(1e-6),
        samples: samples
            .iter()
            .map(|s| (s.0.saturating_sub(first.0) as f64 / 1e6, s.1, s.2))
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario 5: reconnect storm
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct StormConnect {
    /// From the start of the storm until the last socket had its first `hello` (None: never).
    all_in_secs: Option<f64>,
    /// Sockets with a `hello` at least once, and connected when presence was checked.
    got_hello: usize,
    in_at_check: usize,
    /// Per socket, from the start of the storm to its first `hello` (retries included).
    hello: Latency,
    attempts: u64,
    /// Failed attempts by reason (HTTP status of a refused upgrade, close code before `hello`,
    /// socket errors, timeouts), and a few full messages.
    failures: BTreeMap<String, u64>,
    failure_examples: Vec<String>,
    /// Connections lost after their `hello`, by reason.
    drops: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct StormDelivery {
    room: Latency,
    dm: Latency,
    all: Latency,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct StormPresence {
    /// `presence` frames received by all storm sockets together.
    frames: u64,
    frames_per_socket: f64,
    /// Whether presence went quiet (`--quiet-ms` without a frame) before the check, and when the
    /// check ran, seconds after the start of the storm.
    quiet: bool,
    checked_at_secs: f64,
    /// Connected sockets whose user has a dm partner.
    checked: usize,
    /// Sockets whose last word about their dm partner disagrees with the partner's state (online
    /// when the partner has a connected socket), and sockets that heard nothing about the partner.
    wrong: usize,
    missing: usize,
    examples: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct StormResult {
    proto: Proto,
    users: usize,
    /// Members of the room the storm's users share (every user of the setup).
    room_members: usize,
    devices: usize,
    sockets: usize,
    room_rate: f64,
    dm_rate: f64,
    secs: f64,
    connect: StormConnect,
    /// Every delivery counted (messages sent after the recipient socket's `hello`; earlier ones
    /// are the client's `sync` business), over the whole run.
    delivery: StormDelivery,
    /// Deliveries of messages sent before the last socket was in (the whole run if never).
    delivery_during_storm: StormDelivery,
    /// Deliveries of messages sent after that.
    delivery_after_storm: StormDelivery,
    /// Acked messages that a socket connected at the check should have received after its
    /// `hello` and did not (and more than expected, e.g. duplicates).
    lost_room: u64,
    lost_dm: u64,
    extra: u64,
    sent_room: u64,
    acked_room: u64,
    sent_dm: u64,
    acked_dm: u64,
    ack: Latency,
    ack_room: Latency,
    ack_dm: Latency,
    errors: BTreeMap<String, u64>,
    presence: StormPresence,
    server_cores: Option<f64>,
    generator_cores: Option<f64>,
}

struct StormShared {
    total: usize,
    first_in: AtomicUsize,
    all_in_us: AtomicU64,
    attempts: AtomicU64,
    presence_frames: AtomicU64,
    last_presence_us: AtomicU64,
    sent_dm: AtomicU64,
    answered_dm: AtomicU64,
    sent_room: AtomicU64,
    answered_room: AtomicU64,
    ack_room: Shards,
    ack_dm: Shards,
    failures: Mutex<BTreeMap<String, u64>>,
    failure_examples: Mutex<Vec<String>>,
    drops: Mutex<BTreeMap<String, u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl StormShared {
    fn count(map: &Mutex<BTreeMap<String, u64>>, key: &str) {
        *lock(map).entry(key.to_owned()).or_default() += 1;
    }

    fn failure(&self, reason: &str, detail: &str) {
        Self::count(&self.failures, reason);
        let mut ex = lock(&self.failure_examples);
        if ex.len() < 5 {
            ex.push(detail.to_owned());
        }
    }
}

/// What one storm socket saw, returned when it stops.
#[derive(Default)]
struct SockOut {
    first_hello_us: Option<u64>,
    /// `hello` of the current connection, if connected.
    hello_us: Option<u64>,
    /// (sent µs, latency µs, room message) of every counted delivery.
    deliveries: Vec<(u64, u32, bool)>,
    /// Counted deliveries on the current connection.
    room_rx: u64,
    dm_rx: u64,
    /// Send times of this socket's dm messages that were acked.
    acked_sent: Vec<u64>,
    /// Last `online` of a presence frame about the dm partner on the current connection.
    view: Option<bool>,
}

struct SockPlan {
    idx: usize,
    who: Who,
    dm_room: Option<String>,
    partner_id: Option<String>,
}

/// The storm's timeline, shared by its tasks.
#[derive(Clone, Copy)]
struct StormClock {
    send_end: tokio::time::Instant,
    dm_rate: f64,
    retry_ms: u64,
    body_len: usize,
}

/// Raises this process's soft open-file limit to what `need` asks, up to the hard limit, with
/// util-linux `prlimit` (no libc binding in this crate). The idle scenario never needs this: it
/// spreads its connections over processes of 5,000.
fn ensure_nofile(need: u64) -> Result<()> {
    let read = || -> Option<(u64, u64)> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        let mut f = line.split_whitespace().skip(3);
        let soft = f.next()?.parse().unwrap_or(u64::MAX);
        let hard = f.next()?.parse().unwrap_or(u64::MAX);
        Some((soft, hard))
    };
    let Some((soft, hard)) = read() else {
        return Ok(());
    };
    if soft >= need {
        return Ok(());
    }
    if hard < need {
        bail!("{need} open files needed, the hard limit is {hard}: fewer --users or --devices");
    }
    let pid = std::process::id().to_string();
    let status = Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
        .status();
    match read() {
        Some((soft, _)) if soft >= need => {
            eprintln!("storm: open-file limit raised to {soft}");
            Ok(())
        }
        _ => bail!(
            "{need} open files needed, the soft limit is {soft} and prlimit failed ({status:?})"
        ),
    }
}

/// Why a connection attempt failed, as a short key.
fn failure_reason(e: &anyhow::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as WsError;
    for cause in e.chain() {
        if let Some(t) = cause.downcast_ref::<WsError>() {
            return match t {
                WsError::Http(r) => format!("HTTP {}", r.status().as_u16()),
                WsError::Io(io) => format!("io: {:?}", io.kind()),
                WsError::ConnectionClosed | WsError::AlreadyClosed => {
                    "closed during the handshake".into()
                }
                WsError::Protocol(p) => format!("protocol: {p}"),
                other => format!("websocket: {other}"),
            };
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return format!("io: {:?}", io.kind());
        }
    }
    e.to_string()
}

fn close_reason(c: &Option<tokio_tungstenite::tungstenite::protocol::CloseFrame<'_>>) -> String {
    match c {
        Some(f) => format!("close {}", u16::from(f.code)),
        None => "close (no code)".into(),
    }
}

/// One storm connection up to its `hello`: the socket and the time of the `hello`, or (reason,
/// detail).
async fn storm_hello(
    host: SocketAddr,
    src: Option<std::net::Ipv4Addr>,
    token: &str,
) -> std::result::Result<(Ws, u64), (String, String)> {
    let work = async {
        let mut ws = conn::connect(host, src, &format!("/ws?token={token}"))
            .await
            .map_err(|e| (failure_reason(&e), format!("{e:#}")))?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"type\":\"hello\"") => {
                    return Ok((ws, now_us()))
                }
                Some(Ok(Message::Close(c))) => {
                    let r = format!("{} before hello", close_reason(&c));
                    let detail = format!("{r}: {c:?}");
                    return Err((r, detail));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    let e = anyhow::Error::from(e);
                    return Err((
                        format!("{} before hello", failure_reason(&e)),
                        format!("{e:#}"),
                    ));
                }
                None => return Err(("ended before hello".into(), "ended before hello".into())),
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(30), work).await {
        Ok(r) => r,
        Err(_) => Err(("no hello within 30 s".into(), "no hello within 30 s".into())),
    }
}

/// The user id in a presence frame, and whether it says online.
fn presence_of(t: &str) -> Option<(&str, bool)> {
    const USER: &str = "\"user\":\"";
    let start = t.find(USER)? + USER.len();
    let end = start + t[start..].find('"')?;
    Some((&t[start..end], t.contains("\"online\":true")))
}

/// Marker "step" of the room sender's messages (storm sockets use their index).
fn storm_sender_step(sockets: usize) -> u32 {
    sockets as u32
}

#[allow(clippy::too_many_arguments)]
async fn storm_socket(
    plan: SockPlan,
    host: SocketAddr,
    sources: Arc<Sources>,
    shared: Arc<StormShared>,
    clock: StormClock,
    tag: String,
    mut stop: watch::Receiver<bool>,
) -> SockOut {
    let idx = plan.idx;
    let mut out = SockOut::default();
    let mut attempt = 0u64;
    let mut n = 0u64;
    // Sends of this socket start at a phase of their own after its hello.
    let phase = (idx as f64 * 0.618_033_988_7).fract();
    'conn: loop {
        if *stop.borrow() {
            break;
        }
        if attempt > 0 {
            let jitter = (idx as u64 * 7919) % clock.retry_ms.max(1);
            let pause = Duration::from_millis(clock.retry_ms + jitter);
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => break,
            }
        }
        attempt += 1;
        shared.attempts.fetch_add(1, Ordering::Relaxed);
        let res = tokio::select! {
            r = storm_hello(host, sources.next(), &plan.who.token) => r,
            _ = stop.changed() => break,
        };
        let (mut ws, hello_us) = match res {
            Ok(x) => x,
            Err((reason, detail)) => {
                shared.failure(&reason, &format!("socket {idx}: {detail}"));
                continue;
            }
        };
        if out.first_hello_us.is_none() {
            out.first_hello_us = Some(hello_us);
            if shared.first_in.fetch_add(1, Ordering::Relaxed) + 1 == shared.total {
                shared.all_in_us.store(now_us(), Ordering::Relaxed);
            }
        }
        out.hello_us = Some(hello_us);
        out.view = None;
        out.room_rx = 0;
        out.dm_rx = 0;
        let hello_at = tokio::time::Instant::now();
        let mut k = 0u64;
        let due = |k: u64| hello_at + Duration::from_secs_f64((phase + k as f64) / clock.dm_rate);
        let dm_room = plan.dm_room.as_deref().filter(|_| clock.dm_rate > 0.0);
        loop {
            let now = tokio::time::Instant::now();
            let sending = dm_room.is_some() && now < clock.send_end;
            if let (true, Some(room)) = (sending, dm_room) {
                let mut fed = false;
                while due(k) <= now {
                    let us = now_us();
                    let body = marker::body(idx as u32, n, us, clock.body_len);
                    let client_id = format!("d{us}.{tag}.{idx}.{n}");
                    let frame = conn::send_frame(Proto::Chat, room, &client_id, &body, None);
                    if let Err(e) = ws.feed(Message::Text(frame)).await {
                        StormShared::count(&shared.drops, &format!("send: {e}"));
                        out.hello_us = None;
                        continue 'conn;
                    }
                    shared.sent_dm.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                    k += 1;
                    fed = true;
                }
                if fed {
                    if let Err(e) = ws.flush().await {
                        StormShared::count(&shared.drops, &format!("send: {e}"));
                        out.hello_us = None;
                        continue 'conn;
                    }
                }
            }
            let wake = if sending {
                due(k).min(clock.send_end)
            } else {
                now + Duration::from_secs(3600)
            };
            let m = tokio::select! {
                _ = tokio::time::sleep_until(wake) => continue,
                _ = stop.changed() => {
                    let _ = ws.close(None).await;
                    break 'conn;
                }
                m = ws.next() => m,
            };
            let t = match m {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(c))) => {
                    StormShared::count(&shared.drops, &close_reason(&c));
                    out.hello_us = None;
                    continue 'conn;
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    let e = anyhow::Error::from(e);
                    StormShared::count(&shared.drops, &failure_reason(&e));
                    out.hello_us = None;
                    continue 'conn;
                }
                None => {
                    StormShared::count(&shared.drops, "ended");
                    out.hello_us = None;
                    continue 'conn;
                }
            };
            let now = now_us();
            if t.starts_with("{\"type\":\"message\"") {
                if let Some((from, _, sent)) = marker::parse(&t) {
                    if from as usize != idx && sent >= hello_us {
                        let room = from == storm_sender_step(shared.total);
                        let lat = now.saturating_sub(sent).min(u32::MAX as u64) as u32;
                        out.deliveries.push((sent, lat, room));
                        if room {
                            out.room_rx += 1;
                        } else {
                            out.dm_rx += 1;
                        }
                    }
                }
            } else if t.starts_with("{\"type\":\"presence\"") {
                shared.presence_frames.fetch_add(1, Ordering::Relaxed);
                shared.last_presence_us.fetch_max(now, Ordering::Relaxed);
                if let (Some((user, online)), Some(partner)) =
                    (presence_of(&t), plan.partner_id.as_deref())
                {
                    if user == partner {
                        out.view = Some(online);
                    }
                }
            } else if t.starts_with("{\"type\":\"ack\"") {
                if let Some(sent) = chat_ack_sent_us(&t) {
                    shared.ack_dm.record(idx, now.saturating_sub(sent));
                    out.acked_sent.push(sent);
                }
                shared.answered_dm.fetch_add(1, Ordering::Relaxed);
            } else if t.starts_with("{\"type\":\"error\"") {
                let (code, answers_send) = bench::conn::error_frame(&t);
                StormShared::count(&shared.errors, &code);
                if answers_send {
                    shared.answered_dm.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    out
}

/// The room sender: `rate` messages per second into `room` until `send_end`; returns the send
/// times of its acked messages.
#[allow(clippy::too_many_arguments)]
async fn storm_sender(
    mut ws: Ws,
    room: String,
    rate: f64,
    step: u32,
    clock: StormClock,
    tag: String,
    shared: Arc<StormShared>,
    mut stop: watch::Receiver<bool>,
) -> Vec<u64> {
    let mut acked = Vec::new();
    let start = tokio::time::Instant::now();
    let due = |n: u64| start + Duration::from_secs_f64(n as f64 / rate);
    let mut n = 0u64;
    loop {
        let now = tokio::time::Instant::now();
        let sending = rate > 0.0 && now < clock.send_end;
        if sending && due(n) <= now {
            while due(n) <= now {
                let us = now_us();
                let body = marker::body(step, n, us, clock.body_len);
                let client_id = format!("d{us}.{tag}.s.{n}");
                let frame = conn::send_frame(Proto::Chat, &room, &client_id, &body, None);
                if ws.feed(Message::Text(frame)).await.is_err() {
                    StormShared::count(&shared.errors, "room sender: socket failed");
                    return acked;
                }
                shared.sent_room.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            if ws.flush().await.is_err() {
                StormShared::count(&shared.errors, "room sender: socket failed");
                return acked;
            }
        }
        let wake = if sending {
            due(n).min(clock.send_end)
        } else {
            now + Duration::from_secs(3600)
        };
        let m = tokio::select! {
            _ = tokio::time::sleep_until(wake) => continue,
            _ = stop.changed() => break,
            m = ws.next() => m,
        };
        match m {
            Some(Ok(Message::Text(t))) => {
                if t.starts_with("{\"type\":\"ack\"") {
                    if let Some(sent) = chat_ack_sent_us(&t) {
                        shared.ack_room.record(0, now_us().saturating_sub(sent));
                        acked.push(sent);
                    }
                    shared.answered_room.fetch_add(1, Ordering::Relaxed);
                } else if t.starts_with("{\"type\":\"error\"") {
                    let (code, answers_send) = bench::conn::error_frame(&t);
                    StormShared::count(&shared.errors, &format!("room sender: {code}"));
                    if answers_send {
                        shared.answered_room.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Some(Ok(Message::Close(c))) => {
                let r = close_reason(&c);
                StormShared::count(&shared.errors, &format!("room sender: {r}"));
                return acked;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                StormShared::count(&shared.errors, "room sender: socket failed");
                return acked;
            }
        }
    }
    let _ = ws.close(None).await;
    acked
}

/// Reads (and drops) frames until none came for `quiet`, at most `limit`.
async fn read_until_quiet(ws: &mut Ws, quiet: Duration, limit: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let wake = (tokio::time::Instant::now() + quiet).min(deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => return Ok(()),
            m = ws.next() => match m {
                Some(Ok(Message::Close(c))) => bail!("closed by the server: {c:?}"),
                Some(Err(e)) => return Err(e.into()),
                None => bail!("connection ended"),
                Some(Ok(_)) => {}
            }
        }
    }
}

fn latency_of(samples: impl Iterator<Item = u64>) -> Result<Latency> {
    let mut h = histogram()?;
    for us in samples {
        h.saturating_record(us.max(1));
    }
    Ok(Latency::of(&h))
}

fn storm_delivery(outs: &[SockOut], keep: impl Fn(u64) -> bool) -> Result<StormDelivery> {
    let mut room = histogram()?;
    let mut dm = histogram()?;
    for o in outs {
        for &(sent, lat, is_room) in &o.deliveries {
            if keep(sent) {
                let h = if is_room { &mut room } else { &mut dm };
                h.saturating_record(u64::from(lat).max(1));
            }
        }
    }
    let mut all = histogram()?;
    all.add(&room)?;
    all.add(&dm)?;
    Ok(StormDelivery {
        room: Latency::of(&room),
        dm: Latency::of(&dm),
        all: Latency::of(&all),
    })
}

async fn storm(a: StormArgs) -> Result<()> {
    a.common.check()?;
    if a.common.proto != Proto::Chat {
        bail!("the storm speaks this server's protocol only (--proto chat)");
    }
    let setup = a.common.load_setup(0, 0)?;
    if setup.users.len() < a.users || a.users == 0 {
        bail!(
            "the setup has {} users, {} asked",
            setup.users.len(),
            a.users
        );
    }
    let devices = a.devices.max(1);
    let sockets = a.users * devices;
    ensure_nofile(sockets as u64 + 256)?;
    let host = a.common.host;
    // Each user's dm room and partner (users past --users are left out).
    let mut dm_of: HashMap<usize, (String, usize)> = HashMap::new();
    for d in &setup.dms {
        if d.a < a.users && d.b < a.users {
            dm_of.insert(d.a, (d.room.clone(), d.b));
            dm_of.insert(d.b, (d.room.clone(), d.a));
        }
    }
    let sources = Arc::new(Sources::loopback(a.common.sources));
    let shared = Arc::new(StormShared {
        total: sockets,
        first_in: AtomicUsize::new(0),
        all_in_us: AtomicU64::new(0),
        attempts: AtomicU64::new(0),
        presence_frames: AtomicU64::new(0),
        last_presence_us: AtomicU64::new(0),
        sent_dm: AtomicU64::new(0),
        answered_dm: AtomicU64::new(0),
        sent_room: AtomicU64::new(0),
        answered_room: AtomicU64::new(0),
        ack_room: Shards::new(1)?,
        ack_dm: Shards::new(32)?,
        failures: Mutex::new(BTreeMap::new()),
        failure_examples: Mutex::new(Vec::new()),
        drops: Mutex::new(BTreeMap::new()),
        errors: Mutex::new(BTreeMap::new()),
    });

    // The room sender: one more socket of user 0, in and settled before the storm.
    let mut sender_ws = conn::open(Proto::Chat, host, sources.next(), &who(&setup, 0), None)
        .await
        .context("room sender connect")?;
    read_until_quiet(
        &mut sender_ws,
        Duration::from_millis(500),
        Duration::from_secs(5),
    )
    .await
    .context("room sender")?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let tag = format!("{:x}", now_us() % 0xffff_ffff);
    let start = tokio::time::Instant::now() + Duration::from_secs_f64(a.lead_secs.max(0.0));
    let clock = StormClock {
        send_end: start + Duration::from_secs_f64(a.secs.max(0.0)),
        dm_rate: a.dm_rate,
        retry_ms: a.retry_ms,
        body_len: a.body,
    };
    let sender_task = tokio::spawn(storm_sender(
        sender_ws,
        setup.fan_room.clone(),
        a.room_rate,
        storm_sender_step(sockets),
        clock,
        tag.clone(),
        shared.clone(),
        stop_rx.clone(),
    ));
    tokio::time::sleep_until(start).await;

    // The storm: every socket at once.
    let start_us = now_us();
    let server_cpu = CpuMeter::start(&a.server_pid.to_string());
    let gen_cpu = CpuMeter::start("self");
    let mut tasks = Vec::with_capacity(sockets);
    for idx in 0..sockets {
        let user = idx / devices;
        let (dm_room, partner_id) = match dm_of.get(&user) {
            Some((room, partner)) => (Some(room.clone()), Some(setup.users[*partner].id.clone())),
            None => (None, None),
        };
        let plan = SockPlan {
            idx,
            who: who(&setup, user),
            dm_room,
            partner_id,
        };
        tasks.push(tokio::spawn(storm_socket(
            plan,
            host,
            sources.clone(),
            shared.clone(),
            clock,
            tag.clone(),
            stop_rx.clone(),
        )));
    }
    eprintln!(
        "storm: {sockets} sockets ({} users x {devices}) opening at once, room sender at {} msg/s, dms at {} msg/s per socket",
        a.users, a.room_rate, a.dm_rate
    );

    // Sending runs until send_end; then wait for everyone (bounded), then for presence to go
    // quiet and every send to be answered (bounded).
    let connect_deadline = start + Duration::from_secs_f64(a.connect_secs.max(0.0));
    let mut reported = false;
    loop {
        let now = tokio::time::Instant::now();
        let all_in = shared.all_in_us.load(Ordering::Relaxed) != 0;
        if all_in && !reported {
            reported = true;
            eprintln!(
                "storm: all {sockets} sockets in after {:.2}s",
                (shared
                    .all_in_us
                    .load(Ordering::Relaxed)
                    .saturating_sub(start_us)) as f64
                    / 1e6
            );
        }
        if now >= clock.send_end && (all_in || now >= connect_deadline) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !reported {
        eprintln!(
            "storm: {} of {sockets} sockets in after {:.1}s",
            shared.first_in.load(Ordering::Relaxed),
            (now_us().saturating_sub(start_us)) as f64 / 1e6
        );
    }
    let quiet_deadline =
        tokio::time::Instant::now() + Duration::from_secs_f64(a.quiet_max_secs.max(0.0));
    let quiet_us = a.quiet_ms.saturating_mul(1000);
    let quiet = loop {
        let now = now_us();
        let presence_quiet =
            now.saturating_sub(shared.last_presence_us.load(Ordering::Relaxed)) >= quiet_us;
        let answered = shared.answered_dm.load(Ordering::Relaxed)
            >= shared.sent_dm.load(Ordering::Relaxed)
            && shared.answered_room.load(Ordering::Relaxed)
                >= shared.sent_room.load(Ordering::Relaxed);
        if presence_quiet && answered {
            break true;
        }
        if tokio::time::Instant::now() >= quiet_deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let checked_at_secs = (now_us().saturating_sub(start_us)) as f64 / 1e6;
    let server_cores = server_cpu.cores();
    let generator_cores = gen_cpu.cores();
    let _ = stop_tx.send(true);
    let mut outs = Vec::with_capacity(sockets);
    let mut unfinished = 0usize;
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(10), t).await {
            Ok(Ok(o)) => outs.push(o),
            _ => {
                unfinished += 1;
                outs.push(SockOut::default());
            }
        }
    }
    if unfinished > 0 {
        StormShared::count(
            &shared.errors,
            &format!("{unfinished} socket tasks did not stop"),
        );
    }
    let mut room_acked = tokio::time::timeout(Duration::from_secs(5), sender_task)
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or_default();
    room_acked.sort_unstable();

    // Connecting.
    let all_in_us = shared.all_in_us.load(Ordering::Relaxed);
    let got_hello = outs.iter().filter(|o| o.first_hello_us.is_some()).count();
    let in_at_check = outs.iter().filter(|o| o.hello_us.is_some()).count();
    let connect = StormConnect {
        all_in_secs: (all_in_us != 0).then(|| all_in_us.saturating_sub(start_us) as f64 / 1e6),
        got_hello,
        in_at_check,
        hello: latency_of(
            outs.iter()
                .filter_map(|o| o.first_hello_us)
                .map(|h| h.saturating_sub(start_us)),
        )?,
        attempts: shared.attempts.load(Ordering::Relaxed),
        failures: lock(&shared.failures).clone(),
        failure_examples: lock(&shared.failure_examples).clone(),
        drops: lock(&shared.drops).clone(),
    };

    // Deliveries, and what should have arrived: acked messages sent after a connected socket's
    // hello, from the room sender and from the other sockets of its dm (both users' devices).
    let cut = if all_in_us != 0 { all_in_us } else { u64::MAX };
    let delivery = storm_delivery(&outs, |_| true)?;
    let delivery_during_storm = storm_delivery(&outs, |sent| sent < cut)?;
    let delivery_after_storm = storm_delivery(&outs, |sent| sent >= cut)?;
    let mut acked_by: Vec<Vec<u64>> = outs.iter().map(|o| o.acked_sent.clone()).collect();
    for v in &mut acked_by {
        v.sort_unstable();
    }
    let after = |v: &[u64], h: u64| (v.len() - v.partition_point(|&t| t < h)) as u64;
    let (mut lost_room, mut lost_dm, mut extra) = (0u64, 0u64, 0u64);
    for (idx, o) in outs.iter().enumerate() {
        let Some(h) = o.hello_us else { continue };
        let exp_room = after(&room_acked, h);
        lost_room += exp_room.saturating_sub(o.room_rx);
        extra += o.room_rx.saturating_sub(exp_room);
        let user = idx / devices;
        let mut exp_dm = 0u64;
        let mut senders: Vec<usize> = vec![user];
        if let Some((_, p)) = dm_of.get(&user) {
            senders.push(*p);
            for u in senders {
                let devs = u * devices..(u + 1) * devices;
                exp_dm += devs
                    .filter(|s| *s != idx)
                    .map(|s| after(&acked_by[s], h))
                    .sum::<u64>();
            }
        }
        lost_dm += exp_dm.saturating_sub(o.dm_rx);
        extra += o.dm_rx.saturating_sub(exp_dm);
    }

    // Presence: each connected socket's last word about its dm partner against the partner's
    // state (user 0 also has the room sender's socket, always connected).
    let online =
        |u: usize| u == 0 || (u * devices..(u + 1) * devices).any(|s| outs[s].hello_us.is_some());
    let mut presence = StormPresence {
        frames: shared.presence_frames.load(Ordering::Relaxed),
        quiet,
        checked_at_secs,
        ..StormPresence::default()
    };
    presence.frames_per_socket = presence.frames as f64 / sockets.max(1) as f64;
    for (idx, o) in outs.iter().enumerate() {
        let user = idx / devices;
        let (Some(_), Some((_, partner))) = (o.hello_us, dm_of.get(&user)) else {
            continue;
        };
        presence.checked += 1;
        let want = online(*partner);
        let problem = match o.view {
            None => {
                presence.missing += 1;
                Some("no presence frame about the partner".to_owned())
            }
            Some(v) if v != want => {
                presence.wrong += 1;
                Some(format!("last presence frame says online={v}"))
            }
            Some(_) => None,
        };
        if let Some(p) = problem {
            if presence.examples.len() < 5 {
                presence.examples.push(format!(
                    "socket {idx} (user {user}): partner user {partner} is {}, {p}",
                    if want { "online" } else { "offline" }
                ));
            }
        }
    }

    let ack_room = Latency::of(&shared.ack_room.merged()?);
    let ack_dm = Latency::of(&shared.ack_dm.merged()?);
    let mut ack_all = shared.ack_room.merged()?;
    ack_all.add(&shared.ack_dm.merged()?)?;
    let result = StormResult {
        proto: Proto::Chat,
        users: a.users,
        room_members: setup.users.len(),
        devices,
        sockets,
        room_rate: a.room_rate,
        dm_rate: a.dm_rate,
        secs: a.secs,
        connect,
        delivery,
        delivery_during_storm,
        delivery_after_storm,
        lost_room,
        lost_dm,
        extra,
        sent_room: shared.sent_room.load(Ordering::Relaxed),
        acked_room: room_acked.len() as u64,
        sent_dm: shared.sent_dm.load(Ordering::Relaxed),
        acked_dm: acked_by.iter().map(|v| v.len() as u64).sum(),
        ack: Latency::of(&ack_all),
        ack_room,
        ack_dm,
        errors: lock(&shared.errors).clone(),
        presence,
        server_cores,
        generator_cores,
    };
    let c = &result.connect;
    eprintln!(
        "storm: {} of {sockets} got hello ({} connected at the check), all in after {}, hello p50 {:.0} p99 {:.0} max {:.0} ms, {} attempts, failures {:?}, drops {:?}",
        c.got_hello,
        c.in_at_check,
        c.all_in_secs.map(|s| format!("{s:.2}s")).unwrap_or("never".into()),
        c.hello.p50_ms,
        c.hello.p99_ms,
        c.hello.max_ms,
        c.attempts,
        c.failures,
        c.drops
    );
    for e in &c.failure_examples {
        eprintln!("storm: failure example: {e}");
    }
    let d = |l: &Latency| {
        format!(
            "p50 {:.1} p99 {:.1} max {:.1} ms ({})",
            l.p50_ms, l.p99_ms, l.max_ms, l.count
        )
    };
    eprintln!(
        "storm: delivery room {}, dm {}, all {}; during the storm {}; lost room {} dm {}, extra {}",
        d(&result.delivery.room),
        d(&result.delivery.dm),
        d(&result.delivery.all),
        d(&result.delivery_during_storm.all),
        result.lost_room,
        result.lost_dm,
        result.extra
    );
    eprintln!(
        "storm: sent/acked room {}/{} dm {}/{}, ack p50 {:.2} p99 {:.2} ms, errors {:?}, server {:.2} cores, generator {:.2} cores",
        result.sent_room,
        result.acked_room,
        result.sent_dm,
        result.acked_dm,
        result.ack.p50_ms,
        result.ack.p99_ms,
        result.errors,
        server_cores.unwrap_or(f64::NAN),
        generator_cores.unwrap_or(f64::NAN)
    );
    let p = &result.presence;
    eprintln!(
        "storm: presence: {} frames ({:.0} per socket), {} at {:.1}s: {} checked, {} wrong, {} missing",
        p.frames,
        p.frames_per_socket,
        if p.quiet { "quiet" } else { "NOT quiet" },
        p.checked_at_secs,
        p.checked,
        p.wrong,
        p.missing
    );
    for e in &p.examples {
        eprintln!("storm: presence example: {e}");
    }
    write_json(&a.out, &result)
}
