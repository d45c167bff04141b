//! One scenario: closed-loop dm load from every client, a fault injected from outside while it
//! runs, then the checks.
//!
//! The fault itself is the script's job (it owns the processes): this side writes
//! `<state-dir>/ready` once the load is warm and measured, and goes on loading until the script
//! writes `<state-dir>/recovered`; then it loads for `--after-secs` more, stops sending, lets
//! every client finish (resend until acked) and sync, waits for the Syncer to drain, reads the
//! servers' RSS again and checks MariaDB.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Semaphore};

use super::client::{self, Outcome, Phase, Shared, Spec};
use super::store_check::{self, Db, StoreVerdict};
use crate::conn::Sources;
use crate::marker::now_us;
use crate::procfs::{mem_kb, Mem};
use crate::setup::Setup;

/// Settings of one scenario.
#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    /// Short name of the scenario (kill9, redis, freeze, cluster).
    #[arg(long)]
    pub scenario: String,
    /// What the script does to the system, in words (for the report).
    #[arg(long)]
    pub fault: String,
    /// Servers (loopback), comma-separated; clients are spread over them round-robin and move to
    /// the next one when theirs refuses.
    #[arg(long, value_delimiter = ',')]
    pub hosts: Vec<SocketAddr>,
    /// Accounts file from `loadgen setup`.
    #[arg(long)]
    pub setup: PathBuf,
    /// Dm pairs; both members connected and sending.
    #[arg(long, default_value_t = 500)]
    pub pairs: usize,
    /// Sends in flight per client.
    #[arg(long, default_value_t = 4)]
    pub window: usize,
    #[arg(long, default_value_t = 100)]
    pub body: usize,
    /// Source addresses (127.0.0.2 and up).
    #[arg(long, default_value_t = 16)]
    pub sources: u8,
    /// Load before the measurement starts.
    #[arg(long, default_value_t = 3.0)]
    pub warmup_secs: f64,
    /// Load measured before the fault (the rate reached).
    #[arg(long, default_value_t = 3.0)]
    pub measure_secs: f64,
    /// Load after the script reports recovery.
    #[arg(long, default_value_t = 5.0)]
    pub after_secs: f64,
    /// How often the fault is injected, each time after `--after-secs` of load following the
    /// previous recovery. With 2 or more, the memory under load after each round shows whether
    /// what a fault adds keeps growing (a leak) or stays (memory the allocator retains).
    #[arg(long, default_value_t = 1)]
    pub faults: usize,
    /// Where `ready` and `recovered` are written.
    #[arg(long)]
    pub state_dir: PathBuf,
    /// The server processes whose RSS is compared, one pid a line (the script rewrites it when
    /// it restarts one).
    #[arg(long)]
    pub pids_file: PathBuf,
    /// Longest wait for `recovered`.
    #[arg(long, default_value_t = 90)]
    pub fault_timeout_secs: u64,
    /// Longest wait for every client's sends to be acked once sending stops, and again for the
    /// final syncs.
    #[arg(long, default_value_t = 60)]
    pub settle_secs: u64,
    /// Longest wait for the write buffer to drain into MariaDB.
    #[arg(long, default_value_t = 90)]
    pub drain_secs: u64,
    /// Largest own memory (RssAnon + RssShmem) after recovery and drain, as a multiple of its
    /// level under load before the fault.
    #[arg(long, default_value_t = 1.2)]
    pub rss_limit: f64,
    /// Compare the memory after recovery and drain with the level under load after the last
    /// fault instead of before the first: for a fault that replaces the server process (kill -9
    /// and a restart), so that the check compares the process it measures with itself (a new
    /// process also re-indexes the last minutes for search while the load runs). The load after
    /// the last fault then lasts `--warmup-secs` (if longer than `--after-secs`), as before the
    /// first process's reading: a younger process still grows.
    #[arg(long)]
    pub rss_from_last_fault: bool,
    /// What the RSS comparison compares, in words (for the report).
    #[arg(
        long,
        default_value = "the server's RSS under load before the fault vs after recovery and drain"
    )]
    pub rss_note: String,
    #[arg(long)]
    pub mariadb_socket: PathBuf,
    #[arg(long, default_value = "chat")]
    pub database: String,
    #[arg(long)]
    pub out: PathBuf,
}

/// Acks per second over one stretch of the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Rate {
    pub secs: f64,
    pub acks: u64,
    pub per_sec: f64,
}

/// One injection of the fault.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Round {
    /// From `ready` until the script reported recovery.
    pub during: Rate,
    /// The `--after-secs` after recovery.
    pub after: Rate,
    /// The servers' memory under load at the end of `after`.
    pub mem: Mem,
}

/// Everything one scenario measured and decided.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChaosResult {
    pub scenario: String,
    pub fault: String,
    pub clients: usize,
    pub hosts: usize,
    pub window: usize,
    /// Before the fault, after warm-up: the load's sustained rate.
    pub before: Rate,
    /// One per injection of the fault.
    pub rounds: Vec<Round>,
    pub acked: u64,
    pub resent: u64,
    pub reconnects: u64,
    /// Longest time a client was without a connection (ms).
    pub max_offline_ms: u64,
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Clients that did not finish (acks or final sync missing) within the waits.
    pub unfinished_clients: usize,
    pub unacked_sends: usize,
    pub duplicates: u64,
    pub conflicts: u64,
    pub client_problems: Vec<String>,
    /// From the end of sending until the write buffer was empty (None: not within the wait).
    pub drain_secs: Option<f64>,
    pub dead_letters: Option<i64>,
    pub rss_note: String,
    /// Under load before the first fault.
    pub mem_before: Mem,
    /// What `mem_after` is compared with: `mem_before`, or with `--rss-from-last-fault` the level
    /// under load after the last fault.
    #[serde(default)]
    pub mem_baseline: Mem,
    /// After the last recovery, the final syncs and the drain (no load).
    pub mem_after: Mem,
    /// VmRSS after / before.
    pub rss_ratio: f64,
    /// Own memory (RssAnon + RssShmem) after / before: what the check compares.
    pub own_ratio: f64,
    pub rss_limit: f64,
    pub store: StoreVerdict,
    pub pass: bool,
    pub failures: Vec<String>,
    pub secs: f64,
}

/// Sum of the memory of the processes in `pids_file` (KiB); processes gone count 0.
fn mem_of(pids_file: &Path) -> Mem {
    std::fs::read_to_string(pids_file)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .filter_map(|p| mem_kb(p).ok())
        .fold(Mem::default(), |a, b| a + b)
}

fn mib(kb: u64) -> u64 {
    kb / 1024
}

/// The `/metrics` text of the first of `hosts` that answers with a row named `key`.
async fn metrics_with(http: &reqwest::Client, hosts: &[SocketAddr], key: &str) -> Option<String> {
    for h in hosts {
        let Ok(res) = http.get(format!("http://{h}/metrics")).send().await else {
            continue;
        };
        let Ok(text) = res.text().await else { continue };
        if metric(&text, key).is_some() {
            return Some(text);
        }
    }
    None
}

/// The value of the row `name` (no labels) of a `/metrics` text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|v| v.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<f64>().ok())
    })
}

/// (write buffer depth, dead letters) from the first host that answers.
async fn buffer_state(http: &reqwest::Client, hosts: &[SocketAddr]) -> Option<(i64, i64)> {
    let text = metrics_with(http, hosts, "chat_write_buffer_depth").await?;
    let depth = metric(&text, "chat_write_buffer_depth")?;
    let dead = metric(&text, "chat_dead_letters").unwrap_or(0.0);
    Some((depth as i64, dead as i64))
}

/// (documents in the search index, whether a catch-up runs) of the first host that answers;
/// `None` when search is off there (no such metrics) or nothing answers.
async fn search_state(http: &reqwest::Client, hosts: &[SocketAddr]) -> Option<(i64, bool)> {
    let text = metrics_with(http, hosts, "chat_search_documents").await?;
    let docs = metric(&text, "chat_search_documents")?;
    let catching_up = metric(&text, "chat_search_catching_up").unwrap_or(0.0) > 0.0;
    Some((docs as i64, catching_up))
}

/// Waits (at most `limit`) until the search index of `hosts` is idle: no catch-up running and
/// the document count unchanged over a second, i.e. the indexer has taken in its backlog (a
/// server just restarted re-indexes the last minutes; one that was starved of CPU is behind).
/// Its queue and writer memory are then back to their idle size. Whether it became idle (true
/// when search is off).
async fn search_idle(http: &reqwest::Client, hosts: &[SocketAddr], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut last = None;
    while Instant::now() < deadline {
        match search_state(http, hosts).await {
            None => return true,
            Some((docs, false)) if last == Some(docs) => return true,
            Some((docs, catching_up)) => last = (!catching_up).then_some(docs),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    false
}

/// How often, and how many times, memory is read in the idle seconds after the drain.
const AFTER_SAMPLE_EVERY: Duration = Duration::from_millis(500);
const AFTER_SAMPLES: u32 = 16;

/// Waits while `cond` is false, at most `limit`; whether it became true.
async fn until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

async fn rate_over(shared: &Shared, secs: f64) -> Rate {
    let a = shared.acks.load(Ordering::Relaxed);
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let acks = shared.acks.load(Ordering::Relaxed) - a;
    let secs = t.elapsed().as_secs_f64();
    Rate {
        secs,
        acks,
        per_sec: acks as f64 / secs,
    }
}

fn say(start: Instant, what: &str) {
    eprintln!("  [{:5.1}s] {what}", start.elapsed().as_secs_f64());
}

/// Runs the scenario and writes its result; Ok(pass).
pub async fn run(a: RunArgs) -> Result<bool> {
    let start = Instant::now();
    if a.hosts.is_empty() || a.hosts.iter().any(|h| !h.ip().is_loopback()) {
        bail!("--hosts must name loopback servers");
    }
    let setup = Setup::load(&a.setup)?;
    if setup.dms.len() < a.pairs {
        bail!(
            "the setup has {} dms, {} pairs asked",
            setup.dms.len(),
            a.pairs
        );
    }
    std::fs::create_dir_all(&a.state_dir)?;
    for f in ["ready", "recovered"] {
        let _ = std::fs::remove_file(a.state_dir.join(f));
    }
    let tag = format!("k{}{:x}", a.scenario, now_us() % 0xff_ffff);
    let shared = Arc::new(Shared::default());
    let (phase_tx, phase_rx) = watch::channel(Phase::Connect);
    let first_connect = Arc::new(Semaphore::new(32));
    let sources = Sources::loopback(a.sources);
    let clients = a.pairs * 2;
    let mut tasks = Vec::with_capacity(clients);
    for i in 0..clients {
        let dm = &setup.dms[i / 2];
        let user = &setup.users[if i % 2 == 0 { dm.a } else { dm.b }];
        let n = a.hosts.len();
        let hosts = (0..n).map(|k| a.hosts[(i + k) % n]).collect();
        let spec = Spec {
            idx: i,
            room: dm.room.clone(),
            token: user.token.clone(),
            hosts,
            src: sources.next(),
            window: a.window.max(1),
            body: a.body,
            tag: tag.clone(),
        };
        tasks.push(tokio::spawn(client::run(
            spec,
            shared.clone(),
            phase_rx.clone(),
            first_connect.clone(),
        )));
    }
    drop(phase_rx);
    let connected = until(Duration::from_secs(120), || {
        shared.connected.load(Ordering::Relaxed) == clients
    })
    .await;
    if !connected {
        bail!(
            "only {} of {clients} clients connected",
            shared.connected.load(Ordering::Relaxed)
        );
    }
    // Everyone sends from now on (connecting 1,000 clients under a growing load took 30 s).
    phase_tx.send_replace(Phase::Load);
    say(
        start,
        &format!(
            "{clients} clients connected over {} server(s), loading",
            a.hosts.len()
        ),
    );
    tokio::time::sleep(Duration::from_secs_f64(a.warmup_secs)).await;
    let before = rate_over(&shared, a.measure_secs).await;
    let mem_before = mem_of(&a.pids_file);
    say(
        start,
        &format!(
            "before the fault: {:.0} acked msg/s; RSS {} MiB (anon {}, file {}, shmem {}); fault: {}",
            before.per_sec,
            mib(mem_before.rss),
            mib(mem_before.anon),
            mib(mem_before.file),
            mib(mem_before.shmem),
            a.fault
        ),
    );
    let mut rounds = Vec::new();
    let mut recovered = true;
    for k in 1..=a.faults.max(1) {
        // The script removes `ready` when it starts the fault; this side removes `recovered`.
        std::fs::write(a.state_dir.join("ready"), "")?;
        let acks_at_fault = shared.acks.load(Ordering::Relaxed);
        let fault_start = Instant::now();
        let ok = until(Duration::from_secs(a.fault_timeout_secs), || {
            a.state_dir.join("recovered").exists()
        })
        .await;
        let _ = std::fs::remove_file(a.state_dir.join("recovered"));
        let during_secs = fault_start.elapsed().as_secs_f64();
        let during_acks = shared.acks.load(Ordering::Relaxed) - acks_at_fault;
        let during = Rate {
            secs: during_secs,
            acks: during_acks,
            per_sec: during_acks as f64 / during_secs.max(1e-6),
        };
        // Compared with itself (`--rss-from-last-fault`), the process started after the last
        // fault is read after as long a load as the first one had before its reading: a
        // younger process still grows (see `warmup_secs`).
        let after_secs = if a.rss_from_last_fault && k == a.faults.max(1) {
            a.after_secs.max(a.warmup_secs)
        } else {
            a.after_secs
        };
        say(
            start,
            &format!(
                "fault {k}: recovered{} after {during_secs:.1}s ({during_acks} acks meanwhile); loading {}s more",
                if ok { "" } else { " NOT (timed out)" },
                after_secs
            ),
        );
        let after = rate_over(&shared, after_secs).await;
        let mem = mem_of(&a.pids_file);
        say(
            start,
            &format!(
                "after fault {k}: {:.0} acked msg/s, {} reconnects, {} resends so far; RSS {} MiB (anon {}, file {})",
                after.per_sec,
                shared.reconnects.load(Ordering::Relaxed),
                shared.resent.load(Ordering::Relaxed),
                mib(mem.rss),
                mib(mem.anon),
                mib(mem.file)
            ),
        );
        rounds.push(Round { during, after, mem });
        if !ok {
            recovered = false;
            break;
        }
    }

    phase_tx.send_replace(Phase::Drain);
    let sending_ended = Instant::now();
    let all_acked = until(Duration::from_secs(a.settle_secs), || {
        shared.drained.load(Ordering::Relaxed) == clients
    })
    .await;
    // Deliveries of the last acks are still on their way to the other members.
    tokio::time::sleep(Duration::from_millis(500)).await;
    phase_tx.send_replace(Phase::FinalSync);
    let all_synced = until(Duration::from_secs(a.settle_secs), || {
        shared.synced.load(Ordering::Relaxed) == clients
    })
    .await;
    say(
        start,
        &format!(
            "every send acked: {all_acked}; every client synced: {all_synced}; waiting for the Syncer"
        ),
    );

    let http = reqwest::Client::new();
    let mut drain_secs = None;
    let mut dead_letters = None;
    let deadline = Instant::now() + Duration::from_secs(a.drain_secs);
    while Instant::now() < deadline {
        if let Some((depth, dead)) = buffer_state(&http, &a.hosts).await {
            dead_letters = Some(dead);
            if depth == 0 {
                drain_secs = Some(sending_ended.elapsed().as_secs_f64());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The search index too: memory is compared once its indexer is idle again, as the Redis
    // buffer once drained (a restarted server re-indexes the last minutes while the load runs).
    let index_idle = search_idle(&http, &a.hosts, Duration::from_secs(a.drain_secs)).await;
    if !index_idle {
        say(
            start,
            "the search index was still indexing at the end of the wait",
        );
    }
    // Let the servers settle (a sync round in progress, sessions' buffers), then read RSS for a
    // few seconds of idle and keep the lowest: the allocator hands memory freed by the last
    // burst (the final syncs, the drain) back to the system a little later, while memory that is
    // still held stays in every sample.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let first_after = mem_of(&a.pids_file);
    let mut mem_after = first_after;
    for _ in 0..AFTER_SAMPLES {
        tokio::time::sleep(AFTER_SAMPLE_EVERY).await;
        let m = mem_of(&a.pids_file);
        if m.own() < mem_after.own() {
            mem_after = m;
        }
    }
    let mem_baseline = match rounds.last() {
        Some(last) if a.rss_from_last_fault => last.mem,
        _ => mem_before,
    };
    if mem_after.own() < first_after.own() {
        say(
            start,
            &format!(
                "own memory {} MiB right after the drain, {} MiB at the lowest over {:.0} s of idle",
                mib(first_after.own()),
                mib(mem_after.own()),
                (AFTER_SAMPLE_EVERY * AFTER_SAMPLES).as_secs_f64()
            ),
        );
    }
    phase_tx.send_replace(Phase::Stop);
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(clients);
    for t in tasks {
        if let Ok(Ok(o)) = tokio::time::timeout(Duration::from_secs(10), t).await {
            outcomes.push(o);
        }
    }
    say(
        start,
        &format!(
            "drained {}; RSS {} MiB (anon {}, file {}, shmem {}); checking MariaDB",
            drain_secs.map_or("NOT within the wait".into(), |s| format!(
                "{s:.1}s after the end"
            )),
            mib(mem_after.rss),
            mib(mem_after.anon),
            mib(mem_after.file),
            mib(mem_after.shmem)
        ),
    );
    let db = Db {
        socket: a.mariadb_socket.clone(),
        database: a.database.clone(),
    };
    let store = store_check::check(&db, &tag, &outcomes)?;

    let mut r = ChaosResult {
        scenario: a.scenario.clone(),
        fault: a.fault.clone(),
        clients,
        hosts: a.hosts.len(),
        window: a.window,
        before,
        rounds,
        acked: outcomes.iter().map(|o| o.acks.len() as u64).sum(),
        resent: shared.resent.load(Ordering::Relaxed),
        reconnects: shared.reconnects.load(Ordering::Relaxed),
        max_offline_ms: shared.max_offline_ms.load(Ordering::Relaxed),
        errors: shared.errors.lock().map(|e| e.clone()).unwrap_or_default(),
        unfinished_clients: clients - outcomes.iter().filter(|o| o.final_synced).count(),
        unacked_sends: outcomes.iter().map(|o| o.unacked).sum(),
        duplicates: outcomes.iter().map(|o| o.duplicates).sum(),
        conflicts: outcomes.iter().map(|o| o.conflicts).sum(),
        client_problems: outcomes
            .iter()
            .filter_map(|o| o.first_problem.clone())
            .take(5)
            .collect(),
        drain_secs,
        dead_letters,
        rss_note: a.rss_note.clone(),
        mem_before,
        mem_baseline,
        mem_after,
        rss_ratio: mem_after.rss as f64 / mem_baseline.rss.max(1) as f64,
        own_ratio: mem_after.own() as f64 / mem_baseline.own().max(1) as f64,
        rss_limit: a.rss_limit,
        store,
        pass: false,
        failures: Vec::new(),
        secs: start.elapsed().as_secs_f64(),
    };
    judge(&mut r, recovered);
    print_summary(&r);
    std::fs::write(&a.out, serde_json::to_vec_pretty(&r)?)?;
    Ok(r.pass)
}

fn judge(r: &mut ChaosResult, recovered: bool) {
    let mut f = Vec::new();
    if !recovered {
        f.push("the script did not report recovery in time".to_owned());
    }
    if r.unfinished_clients > 0 || r.unacked_sends > 0 {
        f.push(format!(
            "{} clients did not finish; {} sends never acked",
            r.unfinished_clients, r.unacked_sends
        ));
    }
    if r.duplicates > 0 {
        f.push(format!("{} duplicate deliveries", r.duplicates));
    }
    if r.conflicts > 0 {
        f.push(format!("{} conflicting acks or seqs", r.conflicts));
    }
    if r.drain_secs.is_none() {
        f.push("the write buffer did not drain".to_owned());
    }
    if r.dead_letters.unwrap_or(0) > 0 {
        f.push(format!("{} dead letters", r.dead_letters.unwrap_or(0)));
    }
    if !r.store.ok() {
        f.push(format!("MariaDB: {}", r.store.examples.join("; ")));
    }
    if r.own_ratio > r.rss_limit {
        f.push(format!(
            "own memory (RssAnon + RssShmem) grew {:.2}x (limit {:.2}x; VmRSS {:.2}x)",
            r.own_ratio, r.rss_limit, r.rss_ratio
        ));
    }
    r.pass = f.is_empty();
    r.failures = f;
}

/// The scenario's row as CHAOS.md has it (see `report::row`), then what the table leaves out.
fn print_summary(r: &ChaosResult) {
    eprintln!("{}", super::report::summary_line(r));
    for (k, x) in r.rounds.iter().enumerate() {
        eprintln!(
            "  fault {}: {:.0} acked msg/s during ({:.1} s), {:.0} after; own memory then {} MiB",
            k + 1,
            x.during.per_sec,
            x.during.secs,
            x.after.per_sec,
            mib(x.mem.own())
        );
    }
    eprintln!(
        "  memory: RssFile {} → {} MiB; {}",
        mib(r.mem_baseline.file),
        mib(r.mem_after.file),
        r.rss_note
    );
    eprintln!("  MariaDB rows of the run: {}", r.store.rows);
    if !r.errors.is_empty() {
        eprintln!("  error frames: {:?}", r.errors);
    }
    for f in &r.failures {
        eprintln!("  failure: {f}");
    }
    for p in &r.client_problems {
        eprintln!("  client: {p}");
    }
}
