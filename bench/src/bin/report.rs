//! `report`: writes BENCHMARKS.md from the JSON results of one `make bench` run.
//!
//!     report --results DIR --out BENCHMARKS.md [--notes bench/ANALYSIS.md]
//!
//! DIR holds `meta.json`, `insert.json`, one folder per mode (`pinned`, `unpinned`) with
//! `{chat,sio,ceiling}-{idle,fanout}.json`, and `dm/` with the everyday path of issue 17:
//! `{chat,sio}-dm-<rate>.json` (open loop), `{chat,sio}-dm-max.json` (closed loop),
//! `chat-storm.json` and `embedded-dm-{<rate>,max}.json`. Missing files show as "n/a". Numbers
//! are reported, never asserted.
//!
//!     report --results DIR --out BENCHMARKS.md --only socketio,cluster,dm
//!
//! (`scripts/bench.sh --only ...`) renders only those sections, from `DIR/socketio/
//! {chat,chat-sio,sio}-fanout.json`, `DIR/cluster/nodes{1,2,3}-fanout.json` and `DIR/dm/`, and
//! puts them into the existing file between `<!-- section:NAME -->` markers, leaving the rest as
//! it is. A full run keeps the marked sections of the previous file, except `dm` when it measured
//! it itself.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Parser;
use serde_json::Value;

#[derive(Parser)]
struct Cli {
    #[arg(long)]
    results: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// Hand-written analysis appended after the generated tables.
    #[arg(long)]
    notes: Option<PathBuf>,
    /// Only these sections (socketio, cluster, dm), spliced into the existing `--out`.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

const SERVERS: [(&str, &str); 3] = [
    ("chat", "this server"),
    ("sio", "socket.io peer"),
    ("ceiling", "ceiling"),
];

fn load(path: &Path) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_f64()
}

fn fmt_int(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => {
            let s = format!("{:.0}", x);
            let (sign, digits) = s.strip_prefix('-').map(|d| ("-", d)).unwrap_or(("", &s));
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            format!("{sign}{out}")
        }
        _ => "n/a".into(),
    }
}

fn fmt_f(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "n/a".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// A ratio as `1.23×`, or `n/a`.
fn times(r: Option<f64>) -> String {
    match r {
        Some(x) if x.is_finite() => format!("{x:.2}×"),
        _ => "n/a".into(),
    }
}

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

struct Mode {
    name: String,
    dir: PathBuf,
}

impl Mode {
    fn get(&self, server: &str, scenario: &str) -> Value {
        load(&self.dir.join(format!("{server}-{scenario}.json")))
    }

    /// RSS per connection (bytes) at the last idle step.
    fn idle_per_conn(&self, server: &str) -> Option<f64> {
        let v = self.get(server, "idle");
        v.get("steps")?
            .as_array()?
            .last()
            .and_then(|s| num(s, &["per_conn_bytes"]))
    }

    fn idle_last(&self, server: &str) -> Option<Value> {
        self.get(server, "idle")
            .get("steps")?
            .as_array()?
            .last()
            .cloned()
    }

    fn fan_best(&self, server: &str, field: &[&str]) -> Option<f64> {
        num(&self.get(server, "fanout"), &[&["best"], field].concat())
    }

    /// One fan-out run (`best`, `half` or `same`). The common rate of `same` is the socket.io
    /// peer's half rate, so its `half` run stands for its `same` run.
    fn run(&self, server: &str, key: &str) -> Value {
        let v = self.get(server, "fanout");
        match v.get(key) {
            Some(r) if !r.is_null() => r.clone(),
            _ if key == "same" && server == "sio" => v.get("half").cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// Deliveries per second of server CPU time at the best passing fan-out step.
    fn fan_efficiency(&self, server: &str) -> Option<f64> {
        ratio(
            self.fan_best(server, &["deliveries_per_sec"]),
            self.fan_best(server, &["server_cores"]),
        )
    }
}

fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let nofile = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| {
            l.split_whitespace()
                .skip(3)
                .take(2)
                .collect::<Vec<_>>()
                .join(" soft / ")
                + " hard"
        })
        .unwrap_or_default();
    vec![
        ("cores (nproc)".into(), cores.to_string()),
        ("CPU model".into(), model),
        (
            "memory".into(),
            format!("{:.1} GiB", mem_kb / 1024.0 / 1024.0),
        ),
        ("kernel".into(), kernel),
        ("open files per process".into(), nofile),
    ]
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if !cli.only.is_empty() {
        return only(&cli);
    }
    let meta = load(&cli.results.join("meta.json"));
    let insert = load(&cli.results.join("insert.json"));
    let modes: Vec<Mode> = meta
        .get("modes")
        .and_then(Value::as_str)
        .unwrap_or("pinned unpinned")
        .split_whitespace()
        .map(|m| Mode {
            name: m.to_owned(),
            dir: cli.results.join(m),
        })
        .filter(|m| m.dir.is_dir())
        .collect();
    let s = |k: &str| {
        meta.get(k)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };

    let mut md = String::new();
    writeln!(md, "# Benchmarks")?;
    writeln!(md)?;
    writeln!(
        md,
        "Generated by `{}` (scripts/bench.sh) on {}, commit `{}`, in {}. Every number below is measured in that one run on this \
         machine, printed and recorded here; nothing is asserted. The file is rewritten on every run, except the \
         sections measured by `scripts/bench.sh --only` (each names its own run); the analysis at the end is kept \
         in `bench/ANALYSIS.md`.",
        s("command"),
        s("started"),
        s("commit"),
        s("duration")
    )?;
    writeln!(md)?;
    writeln!(md, "## Machine")?;
    writeln!(md)?;
    writeln!(md, "| | |")?;
    writeln!(md, "|---|---|")?;
    for (k, v) in machine() {
        writeln!(md, "| {k} | {v} |")?;
    }
    writeln!(md, "| command | `{}` |", s("command"))?;
    writeln!(md, "| settings | `{}` |", s("settings"))?;
    writeln!(
        md,
        "| node / socket.io | {} / {} |",
        s("node"),
        s("socketio")
    )?;
    writeln!(md, "| load average (1, 5, 15 min) | {} |", s("load"))?;
    writeln!(md)?;
    writeln!(md, "## Setup")?;
    writeln!(md)?;
    writeln!(md, "{}", SETUP_TEXT)?;

    let previous = std::fs::read_to_string(&cli.out).unwrap_or_default();
    let dm_dir = cli.results.join("dm");
    // Goals, from the first mode (pinned when present), the dm runs and the insert comparison.
    if let Some(m) = modes.first() {
        writeln!(md, "## Goals (issues 8 and 3), {} run", m.name)?;
        writeln!(md)?;
        goals(&mut md, m, &dm_dir, &insert)?;
    }
    // The everyday path (issue 17): this run's, or the one kept from the previous file.
    if dm_dir.is_dir() {
        writeln!(md, "{}\n", section("dm", &meta, &cli.results)?)?;
    } else if let Some(block) = marked(&previous, "dm") {
        writeln!(md, "{block}\n")?;
    }
    for m in &modes {
        writeln!(md, "## Results, {}", describe_mode(&m.name))?;
        writeln!(md)?;
        results(&mut md, m)?;
    }
    writeln!(
        md,
        "## SeaORM batch insert vs raw multi-row INSERT (MariaDB)"
    )?;
    writeln!(md)?;
    insert_table(&mut md, &insert)?;
    for m in &modes {
        details(&mut md, m)?;
    }
    if let Some(m) = modes.first() {
        projection(&mut md, m)?;
    }
    // Sections written by `--only` runs are kept as they were.
    for name in EXTRA_SECTIONS {
        if let Some(block) = marked(&previous, name) {
            writeln!(md, "{block}\n")?;
        }
    }
    if let Some(notes) = &cli.notes {
        if let Ok(text) = std::fs::read_to_string(notes) {
            writeln!(md, "{}", text.trim_end())?;
        }
    }
    std::fs::write(&cli.out, md)?;
    eprintln!("wrote {}", cli.out.display());
    Ok(())
}

const SETUP_TEXT: &str = "\
- **This server**: release build, `RUST_LOG=warn`, production storage: MariaDB (Debian's `mariadbd`, same \
flags as `tests/integration/support/services.rs`) and Redis (`appendonly yes`, `appendfsync always`, \
`noeviction`), both started by the script in temp dirs on free loopback ports. Rate limit raised for load \
(`CHAT__WS__RATE_PER_SEC` / `RATE_BURST` = 1,000,000), other settings as shipped. Every message is durable in \
Redis before it is acked and fanned out, and the Syncer copies it into MariaDB.
- **socket.io peer**: `../shared/peers/socketio-chat` copied to a temp dir, `npm ci`, `node server.js` with \
`REDIS_URL` set (one XADD per message before its ack and broadcast) and `PRESENCE=off` (its presence broadcast to \
every socket on each connect would make the idle ramp quadratic). Single process, as shipped.
- **ceiling**: `bench/src/bin/ceiling.rs`, a bare tokio-tungstenite server that writes every text frame to every \
other client (no parsing, no storage, no acks); one worker thread when pinned, one per core otherwise.
- **load generator**: `bench/src/bin/loadgen.rs` (tokio + tokio-tungstenite, 4 KiB read chunks, HDR histograms, \
16 source addresses 127.0.0.2-17). The idle ramp spreads connections over several generator processes \
(5,000 each) because of the 20,000 open-files cap per process. Latency is measured from the moment the \
generator writes a message to the moment a recipient's frame is read (one clock, same machine).
- **pinned**: server `taskset -c 0`, generator `taskset -c 1`; **unpinned**: both free on 2 cores. Redis, \
MariaDB and the Syncer's work compete for the same 2 cores in both modes.
- **Fan-out search**: one sender (a second connection of member 0) sends at a fixed rate into a room of \
1,000 receiving connections for a few seconds; a step passes when every recipient got every message \
(2 s grace) and the per-recipient p99 is at most 100 ms. The rate starts at 25 msg/s for the socket.io \
peer and at 200 for this server and the ceiling (whose lower steps never failed here), doubles while steps pass (halves \
while they fail), then two \
bisection steps; a failing step is run once more before it counts as a failure (one stall on this \
shared machine must not end the search); the best passing step counts. Then a run at half that rate, and one at the same rate \
for all three servers (half of the socket.io peer's best), for the latency comparison.
- **DMs, the reconnect storm and embedded mode** (issue 17): pinned only, in their own section \
\"Everyday path (issue 17)\" below, which says how they run.
";

fn describe_mode(name: &str) -> String {
    match name {
        "pinned" => "pinned (server on CPU 0, generator on CPU 1)".into(),
        "unpinned" => "unpinned (server and generator on both cores)".into(),
        other => other.into(),
    }
}

fn goals(md: &mut String, m: &Mode, dm_dir: &Path, insert: &Value) -> Result<()> {
    let fan = |s: &str| m.fan_best(s, &["deliveries_per_sec"]);
    let rss = |s: &str| m.idle_per_conn(s);
    let same_p99 = |s: &str| num(&m.run(s, "same"), &["recipient", "p99_ms"]);
    let max_dm = load(&dm_dir.join("chat-dm-max.json"));
    // Issue 3's ack goal is at 5,000 msg/s: that run, else the fastest open-loop run.
    let rates = dm_rates(dm_dir, "chat");
    let rate_dm = match rates.iter().find(|r| **r == 5000).or(rates.last()) {
        Some(r) => load(&dm_dir.join(format!("chat-dm-{r}.json"))),
        None => Value::Null,
    };
    let sustained = num(&max_dm, &["acked_per_sec"]);
    let lag = num(&max_dm, &["sync", "max_lag_secs"]);
    let ack_p99 = num(&rate_dm, &["ack", "p99_ms"]);
    let rate = num(&rate_dm, &["rate"]);
    let ins = num(insert, &["ratio"]);

    writeln!(md, "| goal | measured | ratio | |")?;
    writeln!(md, "|---|---|---|---|")?;
    let r = ratio(fan("chat"), fan("sio"));
    writeln!(
        md,
        "| fan-out deliveries/s ≥ 3× socket.io (8) | {} vs {} | {}× | {} |",
        fmt_int(fan("chat")),
        fmt_int(fan("sio")),
        fmt_f(r, 2),
        verdict(r.map(|r| r >= 3.0))
    )?;
    let r = ratio(fan("chat"), fan("ceiling"));
    writeln!(
        md,
        "| fan-out deliveries/s ≥ 0.7× ceiling (8) | {} vs {} | {}× | {} |",
        fmt_int(fan("chat")),
        fmt_int(fan("ceiling")),
        fmt_f(r, 2),
        verdict(r.map(|r| r >= 0.7))
    )?;
    let eff = |s: &str| m.fan_efficiency(s);
    let r = ratio(eff("chat"), eff("sio"));
    writeln!(
        md,
        "| same, per server CPU-second (deliveries/s ÷ cores used) vs socket.io | {} vs {} | {}× | {} |",
        fmt_int(eff("chat")),
        fmt_int(eff("sio")),
        fmt_f(r, 2),
        verdict(r.map(|r| r >= 3.0))
    )?;
    let r = ratio(eff("chat"), eff("ceiling"));
    writeln!(
        md,
        "| same, per server CPU-second vs ceiling | {} vs {} | {}× | {} |",
        fmt_int(eff("chat")),
        fmt_int(eff("ceiling")),
        fmt_f(r, 2),
        verdict(r.map(|r| r >= 0.7))
    )?;
    let kib = |b: Option<f64>| b.map(|b| b / 1024.0);
    writeln!(
        md,
        "| RSS per idle connection ≤ 8 KiB (8) | {} KiB | {}× of 8 KiB | {} |",
        fmt_f(kib(rss("chat")), 1),
        fmt_f(ratio(rss("chat"), Some(8192.0)), 2),
        verdict(rss("chat").map(|b| b <= 8192.0))
    )?;
    let r = ratio(rss("chat"), rss("sio"));
    writeln!(
        md,
        "| RSS per idle connection ≤ 0.4× socket.io (8) | {} vs {} KiB | {}× | {} |",
        fmt_f(kib(rss("chat")), 1),
        fmt_f(kib(rss("sio")), 1),
        fmt_f(r, 2),
        verdict(r.map(|r| r <= 0.4))
    )?;
    let r = ratio(same_p99("chat"), same_p99("sio"));
    let same_rate = num(&m.run("chat", "same"), &["rate"]);
    writeln!(
        md,
        "| fan-out p99 ≤ 0.5× socket.io at the same load (8), {} msg/s × 1,000 | {} vs {} ms | {}× | {} |",
        fmt_f(same_rate, 0),
        fmt_f(same_p99("chat"), 1),
        fmt_f(same_p99("sio"), 1),
        fmt_f(r, 2),
        verdict(r.map(|r| r <= 0.5))
    )?;
    writeln!(
        md,
        "| ≥ 20,000 msg/s sustained send → Redis → MariaDB (3) | {} msg/s | {}× | {} |",
        fmt_int(sustained),
        fmt_f(sustained.map(|s| s / 20000.0), 2),
        verdict(sustained.map(|s| s >= 20000.0))
    )?;
    writeln!(
        md,
        "| sync lag < 2 s during that run (3) | max {} s | | {} |",
        fmt_f(lag, 2),
        verdict(lag.map(|l| l < 2.0))
    )?;
    writeln!(
        md,
        "| ack p99 ≤ 5 ms at 5,000 msg/s (3), run at {} msg/s | {} ms | {}× | {} |",
        fmt_int(rate),
        fmt_f(ack_p99, 2),
        fmt_f(ack_p99.map(|p| p / 5.0), 2),
        verdict(ack_p99.map(|p| p <= 5.0))
    )?;
    writeln!(
        md,
        "| SeaORM batch insert ≥ 0.5× raw multi-row INSERT (3) | {} vs {} rows/s | {}× | {} |",
        fmt_int(num(insert, &["apply_writes_rows_per_sec"])),
        fmt_int(num(insert, &["raw_rows_per_sec"])),
        fmt_f(ins, 2),
        verdict(ins.map(|r| r >= 0.5))
    )?;
    writeln!(md)?;
    Ok(())
}

fn results(md: &mut String, m: &Mode) -> Result<()> {
    if SERVERS.iter().all(|(s, _)| m.get(s, "idle").is_null()) {
        writeln!(
            md,
            "The idle ramp runs in the first mode only (memory does not depend on pinning; `BENCH_IDLE_MODES`).\n"
        )?;
    }
    writeln!(md, "| | this server | socket.io peer | ceiling |")?;
    writeln!(md, "|---|---|---|---|")?;
    let row = |md: &mut String, label: &str, f: &dyn Fn(&str) -> String| -> Result<()> {
        let cells: Vec<String> = SERVERS.iter().map(|(s, _)| f(s)).collect();
        writeln!(md, "| {label} | {} |", cells.join(" | "))?;
        Ok(())
    };
    row(md, "idle: connections open at the top step", &|s| {
        m.idle_last(s)
            .map(|v| {
                format!(
                    "{} of {}",
                    fmt_int(num(&v, &["open"])),
                    fmt_int(num(&v, &["target"]))
                )
            })
            .unwrap_or("n/a".into())
    })?;
    row(md, "idle: server RSS per connection (KiB)", &|s| {
        fmt_f(m.idle_per_conn(s).map(|b| b / 1024.0), 1)
    })?;
    row(md, "idle: server RSS at the top step (MiB)", &|s| {
        fmt_f(
            m.idle_last(s)
                .and_then(|v| num(&v, &["rss_kb"]))
                .map(|k| k / 1024.0),
            0,
        )
    })?;
    row(
        md,
        "fan-out: highest deliveries/s (p99 ≤ 100 ms, none lost)",
        &|s| fmt_int(m.fan_best(s, &["deliveries_per_sec"])),
    )?;
    row(md, "fan-out: messages/s into the room at that rate", &|s| {
        fmt_f(m.fan_best(s, &["rate"]), 0)
    })?;
    row(
        md,
        "fan-out: p50 / p99 per recipient at that rate (ms)",
        &|s| {
            format!(
                "{} / {}",
                fmt_f(m.fan_best(s, &["recipient", "p50_ms"]), 1),
                fmt_f(m.fan_best(s, &["recipient", "p99_ms"]), 1)
            )
        },
    )?;
    row(md, "fan-out: server CPU at that rate (cores)", &|s| {
        fmt_f(m.fan_best(s, &["server_cores"]), 2)
    })?;
    row(md, "fan-out: generator CPU at that rate (cores)", &|s| {
        fmt_f(m.fan_best(s, &["generator_cores"]), 2)
    })?;
    row(
        md,
        "fan-out: deliveries per server CPU-second at that rate",
        &|s| fmt_int(m.fan_efficiency(s)),
    )?;
    for (key, what) in [("half", "half that rate"), ("same", "the same load")] {
        row(md, &format!("latency at {what}: messages/s"), &|s| {
            fmt_f(num(&m.run(s, key), &["rate"]), 1)
        })?;
        row(
            md,
            &format!("latency at {what}: per recipient p50 / p99 (ms)"),
            &|s| {
                let v = m.run(s, key);
                format!(
                    "{} / {}",
                    fmt_f(num(&v, &["recipient", "p50_ms"]), 1),
                    fmt_f(num(&v, &["recipient", "p99_ms"]), 1)
                )
            },
        )?;
        row(
            md,
            &format!("latency at {what}: last recipient p50 / p99 (ms)"),
            &|s| {
                let v = m.run(s, key);
                format!(
                    "{} / {}",
                    fmt_f(num(&v, &["last_recipient", "p50_ms"]), 1),
                    fmt_f(num(&v, &["last_recipient", "p99_ms"]), 1)
                )
            },
        )?;
        row(md, &format!("latency at {what}: lost deliveries"), &|s| {
            fmt_int(num(&m.run(s, key), &["lost"]))
        })?;
    }
    writeln!(md)?;
    Ok(())
}

fn insert_table(md: &mut String, insert: &Value) -> Result<()> {
    if insert.is_null() {
        writeln!(md, "n/a (not run)\n")?;
        return Ok(());
    }
    writeln!(
        md,
        "{} rows of {}-byte bodies over {} rooms, {} rows per transaction, 500-row statements, each method into a fresh \
         database, best of the runs:",
        fmt_int(num(insert, &["rows"])),
        fmt_f(num(insert, &["body"]), 0),
        fmt_f(num(insert, &["rooms"]), 0),
        fmt_int(num(insert, &["txn_rows"]))
    )?;
    writeln!(md)?;
    writeln!(md, "| path | rows/s | vs raw |")?;
    writeln!(md, "|---|---|---|")?;
    let raw = num(insert, &["raw_rows_per_sec"]);
    for (label, key) in [
        ("`Store::apply_writes` (the Syncer's path: id lookup, SeaORM insert_many, last_seq update)", "apply_writes_rows_per_sec"),
        ("SeaORM `insert_many` alone", "seaorm_insert_many_rows_per_sec"),
        ("raw multi-row INSERT (`execute_unprepared`)", "raw_rows_per_sec"),
    ] {
        let v = num(insert, &[key]);
        writeln!(md, "| {label} | {} | {}× |", fmt_int(v), fmt_f(ratio(v, raw), 2))?;
    }
    writeln!(md)?;
    Ok(())
}

fn details(md: &mut String, m: &Mode) -> Result<()> {
    writeln!(md, "## Details, {}", m.name)?;
    writeln!(md)?;
    for (s, label) in SERVERS {
        let idle = m.get(s, "idle");
        if let Some(steps) = idle.get("steps").and_then(Value::as_array) {
            writeln!(
                md,
                "Idle ramp, {label} (RSS before any connection {} MiB, {} generator processes):",
                fmt_f(num(&idle, &["baseline_rss_kb"]).map(|k| k / 1024.0), 1),
                fmt_f(num(&idle, &["procs"]), 0)
            )?;
            writeln!(md)?;
            writeln!(md, "| connections | open | failed | RSS (MiB) | per connection (KiB) | marginal (KiB) | seconds to open |")?;
            writeln!(md, "|---|---|---|---|---|---|---|")?;
            for st in steps {
                writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    fmt_int(num(st, &["target"])),
                    fmt_int(num(st, &["open"])),
                    fmt_int(num(st, &["failed"])),
                    fmt_f(num(st, &["rss_kb"]).map(|k| k / 1024.0), 0),
                    fmt_f(num(st, &["per_conn_bytes"]).map(|b| b / 1024.0), 1),
                    fmt_f(num(st, &["marginal_bytes"]).map(|b| b / 1024.0), 1),
                    fmt_f(num(st, &["secs_to_open"]), 1)
                )?;
            }
            writeln!(md)?;
        }
    }
    for (s, label) in SERVERS {
        fan_steps(md, label, &m.get(s, "fanout"))?;
    }
    Ok(())
}

/// The steps of one fan-out search, and its half-rate and same-load runs (nothing if not run).
fn fan_steps(md: &mut String, label: &str, fan: &Value) -> Result<()> {
    let Some(steps) = fan.get("steps").and_then(Value::as_array) else {
        return Ok(());
    };
    writeln!(
        md,
        "Fan-out search, {label} ({} members connected in {} s, {} reconnects):",
        fmt_int(num(fan, &["members"])),
        fmt_f(num(fan, &["connect_secs"]), 1),
        fmt_int(num(fan, &["reconnects"]))
    )?;
    writeln!(md)?;
    writeln!(md, "| step | msg/s | deliveries/s | lost | p50 / p99 / max (ms) | last recipient p99 (ms) | server / generator CPU | |")?;
    writeln!(md, "|---|---|---|---|---|---|---|---|")?;
    let extra: Vec<&Value> = ["half", "same"]
        .iter()
        .filter_map(|k| fan.get(*k))
        .filter(|v| !v.is_null())
        .collect();
    for st in steps.iter().chain(extra) {
        writeln!(
            md,
            "| {} | {} | {} | {} | {} / {} / {} | {} | {} / {} | {} |",
            st.get("label").and_then(Value::as_str).unwrap_or(""),
            fmt_f(num(st, &["rate"]), 1),
            fmt_int(num(st, &["deliveries_per_sec"])),
            fmt_int(num(st, &["lost"])),
            fmt_f(num(st, &["recipient", "p50_ms"]), 1),
            fmt_f(num(st, &["recipient", "p99_ms"]), 1),
            fmt_f(num(st, &["recipient", "max_ms"]), 1),
            fmt_f(num(st, &["last_recipient", "p99_ms"]), 1),
            fmt_f(num(st, &["server_cores"]), 2),
            fmt_f(num(st, &["generator_cores"]), 2),
            if st.get("pass").and_then(Value::as_bool).unwrap_or(false) {
                "pass"
            } else {
                "fail"
            }
        )?;
    }
    writeln!(md)?;
    Ok(())
}

fn projection(md: &mut String, m: &Mode) -> Result<()> {
    writeln!(md, "## Without the open-file cap")?;
    writeln!(md)?;
    writeln!(
        md,
        "Each process here may hold 20,000 open files, so one server tops out near 19,900 connections; the \
         generator spreads its side over several processes. The marginal RSS per idle connection at the top step \
         is a per-connection constant (buffers, actor, mailbox), so memory alone would allow about:"
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| | marginal KiB per connection | connections per 16 GiB of RAM |"
    )?;
    writeln!(md, "|---|---|---|")?;
    for (s, label) in SERVERS {
        let v = m.idle_last(s).and_then(|v| num(&v, &["marginal_bytes"]));
        let per = v.filter(|b| *b > 0.0);
        writeln!(
            md,
            "| {label} | {} | {} |",
            fmt_f(v.map(|b| b / 1024.0), 1),
            fmt_int(per.map(|b| 16.0 * 1024.0 * 1024.0 * 1024.0 / b))
        )?;
    }
    writeln!(md)?;
    writeln!(
        md,
        "Past memory, the limits are the kernel's (socket buffers: about 4-8 KiB per idle loopback socket on each \
         side, outside the process RSS) and the CPU work per connection (heartbeats: one ping per 15 s per \
         connection here, one per 25 s on socket.io). Fan-out and dm throughput are CPU-bound on this 2-core \
         machine and do not depend on the cap.\n"
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sections of `scripts/bench.sh --only socketio,cluster`
// ---------------------------------------------------------------------------------------------

/// Sections a full run keeps from the previous file (it renders `dm` itself when it ran it;
/// `search` is written by `searchbench report`, `make bench-search`; `media` by `make bench-media`).
const EXTRA_SECTIONS: [&str; 4] = ["socketio", "cluster", "search", "media"];

fn begin_marker(name: &str) -> String {
    format!("<!-- section:{name} -->")
}

fn end_marker(name: &str) -> String {
    format!("<!-- /section:{name} -->")
}

/// The block of section `name` in `text`, markers included.
fn marked<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&begin_marker(name))?;
    let end = start + text[start..].find(&end_marker(name))? + end_marker(name).len();
    Some(&text[start..end])
}

/// `--only`: renders the listed sections and puts them into the existing file, replacing their
/// previous version or, the first time, before the hand-written analysis.
fn only(cli: &Cli) -> Result<()> {
    let meta = load(&cli.results.join("meta.json"));
    let mut text = std::fs::read_to_string(&cli.out).unwrap_or_default();
    for name in &cli.only {
        let md = section(name, &meta, &cli.results)?;
        text = match marked(&text, name) {
            Some(old) => text.replacen(old, &md, 1),
            None => match text.find("\n## Analysis") {
                Some(at) => format!("{}\n{md}\n{}", &text[..at], &text[at..]),
                None => format!("{}\n\n{md}\n", text.trim_end()),
            },
        };
    }
    std::fs::write(&cli.out, text)?;
    eprintln!("updated {} ({})", cli.out.display(), cli.only.join(", "));
    Ok(())
}

/// Section `name` between its markers.
fn section(name: &str, meta: &Value, results: &Path) -> Result<String> {
    let mut md = String::new();
    writeln!(md, "{}", begin_marker(name))?;
    match name {
        "socketio" => socketio_section(&mut md, meta, &results.join("socketio"))?,
        "cluster" => cluster_section(&mut md, meta, &results.join("cluster"))?,
        "dm" => dm_section(&mut md, meta, &results.join("dm"))?,
        other => anyhow::bail!("unknown section {other} (socketio, cluster, dm)"),
    }
    write!(md, "{}", end_marker(name))?;
    Ok(md)
}

fn meta_str(meta: &Value, key: &str) -> String {
    meta.get(key)
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

/// Where and how a `--only` section was measured.
fn provenance(md: &mut String, meta: &Value) -> Result<()> {
    writeln!(
        md,
        "Measured by `{}` on {}, commit `{}`, in {} (the whole command), unpinned; settings `{}`; load average \
         (1, 5, 15 min) {}. Machine as in the table at the top (2 cores).",
        meta_str(meta, "command"),
        meta_str(meta, "started"),
        meta_str(meta, "commit"),
        meta_str(meta, "duration"),
        meta_str(meta, "settings"),
        meta_str(meta, "load")
    )?;
    writeln!(md)?;
    Ok(())
}

/// A fan-out run by key (`best`, `half`, `same`); `same` falls back to `half` for the run whose
/// half rate is the common rate.
fn fan_run(fan: &Value, key: &str) -> Value {
    match fan.get(key) {
        Some(r) if !r.is_null() => r.clone(),
        _ if key == "same" => fan.get("half").cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn p50_p99(v: &Value, which: &str) -> String {
    format!(
        "{} / {}",
        fmt_f(num(v, &[which, "p50_ms"]), 1),
        fmt_f(num(v, &[which, "p99_ms"]), 1)
    )
}

/// Rows common to both sections, one column per fan-out result.
fn fan_rows(md: &mut String, cols: &[Value]) -> Result<()> {
    let row = |md: &mut String, label: &str, f: &dyn Fn(&Value) -> String| -> Result<()> {
        let cells: Vec<String> = cols.iter().map(f).collect();
        writeln!(md, "| {label} | {} |", cells.join(" | "))?;
        Ok(())
    };
    let best = |v: &Value, f: &[&str]| num(v, &[&["best"], f].concat());
    row(md, "members connected", &|v| fmt_int(num(v, &["members"])))?;
    row(
        md,
        "fan-out: highest deliveries/s (p99 ≤ 100 ms, none lost)",
        &|v| fmt_int(best(v, &["deliveries_per_sec"])),
    )?;
    row(md, "fan-out: messages/s into the room at that rate", &|v| {
        fmt_f(best(v, &["rate"]), 0)
    })?;
    row(
        md,
        "fan-out: p50 / p99 per recipient at that rate (ms)",
        &|v| p50_p99(&fan_run(v, "best"), "recipient"),
    )?;
    row(
        md,
        "fan-out: server CPU at that rate (cores, all nodes)",
        &|v| fmt_f(best(v, &["server_cores"]), 2),
    )?;
    row(md, "fan-out: deliveries per server CPU-second", &|v| {
        fmt_int(ratio(
            best(v, &["deliveries_per_sec"]),
            best(v, &["server_cores"]),
        ))
    })?;
    let same_rate = cols
        .iter()
        .find_map(|v| num(&fan_run(v, "same"), &["rate"]));
    let what = format!("latency at the same load ({} msg/s)", fmt_f(same_rate, 1));
    row(md, &format!("{what}: per recipient p50 / p99 (ms)"), &|v| {
        p50_p99(&fan_run(v, "same"), "recipient")
    })?;
    row(
        md,
        &format!("{what}: last recipient p50 / p99 (ms)"),
        &|v| p50_p99(&fan_run(v, "same"), "last_recipient"),
    )?;
    row(md, &format!("{what}: lost deliveries"), &|v| {
        fmt_int(num(&fan_run(v, "same"), &["lost"]))
    })?;
    Ok(())
}

fn socketio_section(md: &mut String, meta: &Value, dir: &Path) -> Result<()> {
    let cols = [
        ("chat", "this server, /ws"),
        ("chat-sio", "this server, /socket.io/"),
        ("sio", "node socket.io peer"),
    ];
    let fans: Vec<Value> = cols
        .iter()
        .map(|(p, _)| load(&dir.join(format!("{p}-fanout.json"))))
        .collect();
    writeln!(
        md,
        "## This server over /ws and over /socket.io/, and the node peer (issue 11)"
    )?;
    writeln!(md)?;
    provenance(md, meta)?;
    writeln!(
        md,
        "One `loadgen fanout` run per endpoint, back to back, this server (one process, Redis + MariaDB as \
         above) and the peer ({} / socket.io {}) running side by side: `--proto chat` speaks protocol v1 on `/ws`; \
         `--proto chat-sio` and `--proto sio` share the Engine.IO v4 (WebSocket transport) / Socket.IO v5 client \
         code in `bench/src/conn.rs` and differ only in the CONNECT auth (`{{token}}` vs `{{user}}`), the \
         peer's `join` and, on ours, the wait for the session's `hello` event (as on `/ws`). Same search as above (p99 ≤ 100 ms per recipient, none lost), then the latency run at half the \
         peer's best for all three.",
        meta_str(meta, "node"),
        meta_str(meta, "socketio")
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| | {} |",
        cols.iter().map(|c| c.1).collect::<Vec<_>>().join(" | ")
    )?;
    writeln!(md, "|---|---|---|---|")?;
    fan_rows(md, &fans)?;
    let fan = |i: usize, f: &[&str]| num(&fans[i], &[&["best"], f].concat());
    let p99 = |i: usize| num(&fan_run(&fans[i], "same"), &["recipient", "p99_ms"]);
    let d = ["deliveries_per_sec"];
    let best: Vec<Option<f64>> = (0..3).map(|i| fan(i, &d)).collect();
    let tail: Vec<Option<f64>> = (0..3).map(p99).collect();
    for (label, v) in [
        ("highest deliveries/s", &best),
        ("per recipient p99 at the same load", &tail),
    ] {
        let cells: Vec<String> = v
            .iter()
            .map(|x| format!("{} / {}", times(ratio(*x, v[0])), times(ratio(*x, v[2]))))
            .collect();
        writeln!(
            md,
            "| ratio of the {label}: to /ws / to the node peer | {} |",
            cells.join(" | ")
        )?;
    }
    writeln!(md)?;
    for ((_, label), fan) in cols.iter().zip(&fans) {
        fan_steps(md, label, fan)?;
    }
    Ok(())
}

fn cluster_section(md: &mut String, meta: &Value, dir: &Path) -> Result<()> {
    let fans: Vec<Value> = ["plain", "nodes1", "nodes2", "nodes3"]
        .iter()
        .map(|n| load(&dir.join(format!("{n}-fanout.json"))))
        .collect();
    writeln!(
        md,
        "## Cluster mode: one room over 1, 2 and 3 nodes (issue 10)"
    )?;
    writeln!(md)?;
    provenance(md, meta)?;
    writeln!(
        md,
        "`chat-server` processes with `CHAT__CLUSTER__ENABLED=true`, one Redis and one MariaDB (as above), a \
         distinct `CHAT__CLUSTER__NODE_ID` each; the 1-node cluster is the baseline. `loadgen fanout --host NODE1 \
         --more-hosts NODE2,NODE3` spreads the room's members round-robin over the nodes (member i on node i mod n) \
         and sends from node 1; every message goes through Redis (the append script publishes it on the bus) and \
         each node delivers to its own sessions from there. Latency per recipient is split into recipients on \
         the sender's node and on another node; note that every node, the sender's included, delivers from \
         the bus, so both kinds of recipient take the same path (the sender's node has no shortcut) and the cost \
         of that path shows against the plain server, a single process with cluster mode off, run first in the \
         same command. The same-load rate is half the plain server's best. **All nodes, Redis, MariaDB and the generator share this \
         machine's 2 cores**, so these figures show the cost of the cluster path (a Redis round trip before \
         every delivery, every node decoding all bus traffic) and how several processes share the same 2 cores, \
         not scaling over machines; one process used well under the 2 cores here (server CPU row, summed over the \
         nodes), so several can get more of them. The rate search moves in coarse steps and single steps flip \
         between pass and fail under the machine's load (see the step tables), so differences of one search step \
         are within the noise."
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| | plain server (no cluster) | 1 node (baseline) | 2 nodes | 3 nodes |"
    )?;
    writeln!(md, "|---|---|---|---|---|")?;
    fan_rows(md, &fans)?;
    let d = |i: usize| num(&fans[i], &["best", "deliveries_per_sec"]);
    writeln!(
        md,
        "| highest deliveries/s vs 1 node / vs the plain server | {} |",
        (0..4)
            .map(|i| format!(
                "{} / {}",
                times(ratio(d(i), d(1))),
                times(ratio(d(i), d(0)))
            ))
            .collect::<Vec<_>>()
            .join(" | ")
    )?;
    let row = |md: &mut String, label: &str, f: &dyn Fn(&Value) -> String| -> Result<()> {
        let cells: Vec<String> = fans.iter().map(f).collect();
        writeln!(md, "| {label} | {} |", cells.join(" | "))?;
        Ok(())
    };
    for (key, what) in [
        ("same", "at the same load"),
        ("best", "at each one's highest rate"),
    ] {
        row(
            md,
            &format!("{what}: same-node recipients p50 / p99 (ms)"),
            &|v| p50_p99(&fan_run(v, key), "same_node"),
        )?;
        row(
            md,
            &format!("{what}: cross-node recipients p50 / p99 (ms)"),
            &|v| {
                let r = fan_run(v, key);
                if num(&r, &["cross_node", "count"]).unwrap_or(0.0) > 0.0 {
                    p50_p99(&r, "cross_node")
                } else {
                    "n/a (one node)".into()
                }
            },
        )?;
        row(
            md,
            &format!("{what}: added by a cross-node delivery, p50 / p99 (ms)"),
            &|v| {
                let r = fan_run(v, key);
                if num(&r, &["cross_node", "count"]).unwrap_or(0.0) == 0.0 {
                    return "n/a".into();
                }
                let diff =
                    |q: &str| Some(num(&r, &["cross_node", q])? - num(&r, &["same_node", q])?);
                format!(
                    "{} / {}",
                    fmt_f(diff("p50_ms"), 1),
                    fmt_f(diff("p99_ms"), 1)
                )
            },
        )?;
    }
    writeln!(md)?;
    let labels = ["plain server", "1 node", "2 nodes", "3 nodes"];
    for (label, fan) in labels.iter().zip(&fans) {
        fan_steps(md, label, fan)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The everyday path (issue 17): dms, the reconnect storm, embedded mode
// ---------------------------------------------------------------------------------------------

/// The open-loop rates measured for `server` in `dir` (files `<server>-dm-<rate>.json`), ascending.
fn dm_rates(dir: &Path, server: &str) -> Vec<u64> {
    let prefix = format!("{server}-dm-");
    let mut rates: Vec<u64> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix(&prefix)?
                .strip_suffix(".json")?
                .parse()
                .ok()
        })
        .collect();
    rates.sort_unstable();
    rates.dedup();
    rates
}

/// A goal cell: `met`, `**missed**` or empty (no goal on that row).
fn goal_cell(ok: Option<Option<bool>>) -> &'static str {
    match ok {
        None => "",
        Some(v) => verdict(v),
    }
}

fn lat_cell(v: &Value, which: &str, digits: usize) -> String {
    format!(
        "{} / {}",
        fmt_f(num(v, &[which, "p50_ms"]), digits),
        fmt_f(num(v, &[which, "p99_ms"]), digits)
    )
}

fn lat3_cell(v: &Value, path: &[&str]) -> String {
    let q = |k: &str| num(v, &[path, &[k]].concat());
    format!(
        "{} / {} / {} ({} deliveries)",
        fmt_f(q("p50_ms"), 1),
        fmt_f(q("p99_ms"), 1),
        fmt_f(q("max_ms"), 1),
        fmt_int(q("count"))
    )
}

fn errors_cell(v: &Value, key: &str) -> String {
    match v.get(key).and_then(Value::as_object) {
        Some(e) if e.is_empty() => "0".into(),
        Some(e) => e
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        None => "n/a".into(),
    }
}

fn dm_section(md: &mut String, meta: &Value, dir: &Path) -> Result<()> {
    let get = |name: &str| load(&dir.join(format!("{name}.json")));
    let rates = {
        let mut r = dm_rates(dir, "chat");
        r.extend(dm_rates(dir, "sio"));
        r.sort_unstable();
        r.dedup();
        r
    };
    let storm = get("chat-storm");
    let conns = rates
        .iter()
        .map(|r| get(&format!("chat-dm-{r}")))
        .chain([get("chat-dm-max")])
        .find_map(|v| num(&v, &["conns"]));
    writeln!(md, "## Everyday path (issue 17)")?;
    writeln!(md)?;
    writeln!(
        md,
        "Measured by `{}` on {}, commit `{}`, in {} (the whole command), **pinned**: server `taskset -c 0`, \
         generator `taskset -c 1` (Redis and MariaDB not pinned); settings `{}`; load average (1, 5, 15 \
         min) {}. Machine as in the table at the top (2 cores).",
        meta_str(meta, "command"),
        meta_str(meta, "started"),
        meta_str(meta, "commit"),
        meta_str(meta, "duration"),
        meta_str(meta, "dm_settings"),
        meta_str(meta, "load")
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "Fresh processes of this server (production storage: Redis with `appendonly yes` / `appendfsync always`, \
         MariaDB) and of the socket.io peer (Redis XADD before every ack). **DMs** (`loadgen dm`): {} connections, \
         both members of every dm connected, then a warm-up (connect-time traffic such as presence settles), \
         then every connection sends to its dm in turn: open loop at a fixed total rate (peer, then this server, \
         per rate), then the closed loop (a window of sends in flight per connection; the sustained rate is the \
         acks received while sending ÷ the seconds of sending). Ack latency: from the write of a `send` to the \
         read of its ack on the sender's socket; delivery latency: to the read of the message on the other \
         member's socket; \"delivery p50 − ack p50\" is the difference of the two medians. This server's sync \
         lag and buffer depth are `/metrics` (`chat_sync_lag_seconds`, `chat_write_buffer_depth`) sampled every \
         200 ms from the first send until the buffer is empty; \"drained after\" is from the end of sending.",
        fmt_int(conns)
    )?;
    writeln!(md)?;
    let pair = |r: &str| (get(&format!("chat-dm-{r}")), get(&format!("sio-dm-{r}")));
    writeln!(
        md,
        "| dms, production storage | this server | socket.io peer | this server ÷ peer | goal | |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    for r in &rates {
        let (c, p) = pair(&r.to_string());
        let what = format!("{} msg/s open loop", fmt_int(Some(*r as f64)));
        for (q, label) in [("p50_ms", "p50"), ("p99_ms", "p99")] {
            let (a, b) = (num(&c, &["ack", q]), num(&p, &["ack", q]));
            let rt = ratio(a, b);
            writeln!(
                md,
                "| {what}: ack {label} (ms) | {} | {} | {} | ≤ 0.5× | {} |",
                fmt_f(a, 2),
                fmt_f(b, 2),
                times(rt),
                verdict(rt.map(|x| x <= 0.5))
            )?;
        }
        for (q, label) in [("p50_ms", "p50"), ("p99_ms", "p99")] {
            let (a, b) = (num(&c, &["delivery", q]), num(&p, &["delivery", q]));
            writeln!(
                md,
                "| {what}: delivery {label} (ms) | {} | {} | {} | | |",
                fmt_f(a, 2),
                fmt_f(b, 2),
                times(ratio(a, b))
            )?;
        }
        let diff = |v: &Value| Some(num(v, &["delivery", "p50_ms"])? - num(v, &["ack", "p50_ms"])?);
        writeln!(
            md,
            "| {what}: delivery p50 − ack p50 (ms) | {} | {} | | ≤ 1 ms | {} |",
            fmt_f(diff(&c), 2),
            fmt_f(diff(&p), 2),
            verdict(diff(&c).map(|d| d <= 1.0))
        )?;
        writeln!(
            md,
            "| {what}: acked msg/s / errors | {} / {} | {} / {} | | | |",
            fmt_int(num(&c, &["acked_per_sec"])),
            errors_cell(&c, "errors"),
            fmt_int(num(&p, &["acked_per_sec"])),
            errors_cell(&p, "errors")
        )?;
    }
    let (c, p) = pair("max");
    let window = num(&c, &["window"]).or(num(&p, &["window"]));
    let what = format!("closed loop ({} in flight per connection)", fmt_int(window));
    let (a, b) = (num(&c, &["acked_per_sec"]), num(&p, &["acked_per_sec"]));
    writeln!(
        md,
        "| {what}: sustained acked msg/s | {} | {} | {} | ≥ 25,000 | {} |",
        fmt_int(a),
        fmt_int(b),
        times(ratio(a, b)),
        verdict(a.map(|x| x >= 25_000.0))
    )?;
    writeln!(
        md,
        "| {what}: ack p50 / p99 (ms) | {} | {} | | | |",
        lat_cell(&c, "ack", 1),
        lat_cell(&p, "ack", 1)
    )?;
    writeln!(
        md,
        "| {what}: delivery p50 / p99 (ms) | {} | {} | | | |",
        lat_cell(&c, "delivery", 1),
        lat_cell(&p, "delivery", 1)
    )?;
    let sync = c.get("sync").filter(|v| !v.is_null());
    let lag = sync.and_then(|s| num(s, &["max_lag_secs"]));
    writeln!(
        md,
        "| {what}: sync lag max (s) | {} | n/a (no SQL behind it) | | < 2 s | {} |",
        fmt_f(lag, 2),
        verdict(lag.map(|l| l < 2.0))
    )?;
    let drain = sync.map(|s| num(s, &["drain_secs"]));
    let drain_text = match drain {
        Some(Some(d)) => format!("{d:.1}"),
        Some(None) => "not within the wait (see settings)".into(),
        None => "n/a".into(),
    };
    writeln!(
        md,
        "| {what}: buffer drained after the end (s) | {drain_text} | n/a | | ≤ 2 s | {} |",
        verdict(drain.map(|d| d.is_some_and(|d| d <= 2.0)))
    )?;
    writeln!(md)?;

    // The reconnect storm.
    writeln!(
        md,
        "**Reconnect storm** (`loadgen storm`, this server): {} users, all members of one room ({} members) and \
         each in one dm with another of them, × {} sockets each, every socket opened at once (one task each, no \
         ramp), as after a deploy or a network blip. Before the storm one more socket of user 0, connected \
         and settled, starts sending {} msg/s into the room and keeps on for the whole run; every storm socket, \
         once it has its `hello`, sends {} msg/s into its dm, until {} s after the first connect. A socket \
         that fails (refused upgrade, close before `hello`, socket error) tries again after 250-500 ms. \
         Delivery latency counts, at every recipient socket, the messages sent after that socket's `hello` \
         (earlier ones are the client's `sync` business); \"lost\" counts acked messages a connected socket \
         should have had that way and did not. Presence is checked after everyone is in and no presence frame \
         arrived for 1 s (at most 15 s): each socket's last presence frame about its dm partner (an \
         announcement or the snapshot of online contacts sent after `hello`) must say what is true (online: \
         every partner has a socket connected).",
        fmt_int(num(&storm, &["users"])),
        fmt_int(num(&storm, &["room_members"])),
        fmt_int(num(&storm, &["devices"])),
        fmt_f(num(&storm, &["room_rate"]), 0),
        fmt_f(num(&storm, &["dm_rate"]), 0),
        fmt_f(num(&storm, &["secs"]), 0)
    )?;
    writeln!(md)?;
    writeln!(md, "| reconnect storm | this server | goal | |")?;
    writeln!(md, "|---|---|---|---|")?;
    let sn = |p: &[&str]| num(&storm, p);
    let row =
        |md: &mut String, label: &str, value: String, goal: &str, ok: Option<Option<bool>>| {
            writeln!(md, "| {label} | {value} | {goal} | {} |", goal_cell(ok))
        };
    row(
        md,
        "sockets opened at once (users × devices)",
        format!(
            "{} ({} × {})",
            fmt_int(sn(&["sockets"])),
            fmt_int(sn(&["users"])),
            fmt_int(sn(&["devices"]))
        ),
        "",
        None,
    )?;
    let all_in = sn(&["connect", "all_in_secs"]);
    let all_in_text = match all_in {
        Some(s) => format!("{s:.2} s"),
        None if storm.is_null() => "n/a".into(),
        None => format!(
            "never: {} of {} got a `hello`",
            fmt_int(sn(&["connect", "got_hello"])),
            fmt_int(sn(&["sockets"]))
        ),
    };
    row(
        md,
        "all in: from the first connect until every socket had its `hello`",
        all_in_text,
        "≤ 2 s",
        Some(if storm.is_null() {
            None
        } else {
            Some(all_in.is_some_and(|s| s <= 2.0))
        }),
    )?;
    row(
        md,
        "`hello` per socket, from the first connect: p50 / p99 / max (ms)",
        format!(
            "{} / {} / {}",
            fmt_int(sn(&["connect", "hello", "p50_ms"])),
            fmt_int(sn(&["connect", "hello", "p99_ms"])),
            fmt_int(sn(&["connect", "hello", "max_ms"]))
        ),
        "",
        None,
    )?;
    row(
        md,
        "connection attempts / failed attempts by reason",
        format!(
            "{} / {}",
            fmt_int(sn(&["connect", "attempts"])),
            errors_cell(storm.get("connect").unwrap_or(&Value::Null), "failures")
        ),
        "",
        None,
    )?;
    row(
        md,
        "connections lost after their `hello`, by reason",
        errors_cell(storm.get("connect").unwrap_or(&Value::Null), "drops"),
        "",
        None,
    )?;
    let p99 = sn(&["delivery", "all", "p99_ms"]);
    row(
        md,
        "delivery during the storm run, room and dm: p50 / p99 / max (ms)",
        lat3_cell(&storm, &["delivery", "all"]),
        "p99 ≤ 100 ms",
        Some(
            p99.filter(|_| sn(&["delivery", "all", "count"]).unwrap_or(0.0) > 0.0)
                .map(|p| p <= 100.0),
        ),
    )?;
    row(
        md,
        "— room messages: p50 / p99 / max (ms)",
        lat3_cell(&storm, &["delivery", "room"]),
        "",
        None,
    )?;
    row(
        md,
        "— dm messages: p50 / p99 / max (ms)",
        lat3_cell(&storm, &["delivery", "dm"]),
        "",
        None,
    )?;
    row(
        md,
        "— sent before the last socket was in: p50 / p99 / max (ms)",
        lat3_cell(&storm, &["delivery_during_storm", "all"]),
        "",
        None,
    )?;
    row(
        md,
        "— sent after: p50 / p99 / max (ms)",
        lat3_cell(&storm, &["delivery_after_storm", "all"]),
        "",
        None,
    )?;
    let lost = match (sn(&["lost_room"]), sn(&["lost_dm"])) {
        (Some(a), Some(b)) => Some(a + b),
        _ => None,
    };
    row(
        md,
        "lost deliveries: room / dm (and more than expected)",
        format!(
            "{} / {} ({})",
            fmt_int(sn(&["lost_room"])),
            fmt_int(sn(&["lost_dm"])),
            fmt_int(sn(&["extra"]))
        ),
        "0",
        Some(lost.map(|l| l == 0.0)),
    )?;
    row(
        md,
        "messages sent / acked: room, dm",
        format!(
            "{} / {}, {} / {}",
            fmt_int(sn(&["sent_room"])),
            fmt_int(sn(&["acked_room"])),
            fmt_int(sn(&["sent_dm"])),
            fmt_int(sn(&["acked_dm"]))
        ),
        "",
        None,
    )?;
    row(
        md,
        "ack p50 / p99 (ms): room, dm",
        format!(
            "{}, {}",
            lat_cell(&storm, "ack_room", 1),
            lat_cell(&storm, "ack_dm", 1)
        ),
        "",
        None,
    )?;
    row(md, "errors", errors_cell(&storm, "errors"), "", None)?;
    row(
        md,
        "`presence` frames received, all sockets (per socket)",
        format!(
            "{} ({})",
            fmt_int(sn(&["presence", "frames"])),
            fmt_f(sn(&["presence", "frames_per_socket"]), 0)
        ),
        "",
        None,
    )?;
    let wrong = match (sn(&["presence", "wrong"]), sn(&["presence", "missing"])) {
        (Some(a), Some(b)) => Some(a + b),
        _ => None,
    };
    row(
        md,
        "presence of the dm partner wrong / missing, of the sockets checked",
        format!(
            "{} / {} of {} (checked {} s after the first connect{})",
            fmt_int(sn(&["presence", "wrong"])),
            fmt_int(sn(&["presence", "missing"])),
            fmt_int(sn(&["presence", "checked"])),
            fmt_f(sn(&["presence", "checked_at_secs"]), 1),
            match storm.pointer("/presence/quiet").and_then(Value::as_bool) {
                Some(false) => ", presence never went quiet",
                _ => "",
            }
        ),
        "0",
        Some(wrong.map(|w| w == 0.0)),
    )?;
    if let Some(ex) = storm
        .pointer("/presence/examples")
        .and_then(Value::as_array)
    {
        if !ex.is_empty() {
            let ex: Vec<&str> = ex.iter().filter_map(Value::as_str).collect();
            row(md, "presence: examples", ex.join("; "), "", None)?;
        }
    }
    row(
        md,
        "server / generator CPU during the storm (cores)",
        format!(
            "{} / {}",
            fmt_f(sn(&["server_cores"]), 2),
            fmt_f(sn(&["generator_cores"]), 2)
        ),
        "",
        None,
    )?;
    writeln!(md)?;

    // Embedded mode.
    let erates = dm_rates(dir, "embedded");
    writeln!(
        md,
        "**Embedded mode** (the shipped default storage): a second `chat-server` process with \
         `CHAT__DATABASE__URL=sqlite://…/embedded.db?mode=rwc` and no Redis (every group of writes committed to \
         SQLite, `synchronous=FULL`, before its ack), its own users registered through it, pinned the same way; \
         the same dm runs."
    )?;
    writeln!(md)?;
    writeln!(
        md,
        "| embedded mode (SQLite, no Redis) | this server | goal | |"
    )?;
    writeln!(md, "|---|---|---|---|")?;
    for r in &erates {
        let v = get(&format!("embedded-dm-{r}"));
        let what = format!("{} msg/s open loop", fmt_int(Some(*r as f64)));
        let p50 = num(&v, &["ack", "p50_ms"]);
        let goal = (*r == 1000).then_some(p50.map(|p| p <= 2.0));
        row(
            md,
            &format!("{what}: ack p50 / p99 (ms)"),
            lat_cell(&v, "ack", 2),
            if goal.is_some() { "p50 ≤ 2 ms" } else { "" },
            goal,
        )?;
        row(
            md,
            &format!("{what}: delivery p50 / p99 (ms)"),
            lat_cell(&v, "delivery", 2),
            "",
            None,
        )?;
        row(
            md,
            &format!("{what}: acked msg/s / errors"),
            format!(
                "{} / {}",
                fmt_int(num(&v, &["acked_per_sec"])),
                errors_cell(&v, "errors")
            ),
            "",
            None,
        )?;
    }
    if erates.is_empty() {
        row(md, "open loop", "n/a (not run)".into(), "", None)?;
    }
    let v = get("embedded-dm-max");
    let a = num(&v, &["acked_per_sec"]);
    row(
        md,
        "closed loop: sustained acked msg/s",
        fmt_int(a),
        "≥ 10,000",
        Some(a.map(|x| x >= 10_000.0)),
    )?;
    row(
        md,
        "closed loop: ack p50 / p99 (ms)",
        lat_cell(&v, "ack", 1),
        "",
        None,
    )?;
    writeln!(md)?;

    // Every dm run, for the record.
    writeln!(md, "Every dm run:")?;
    writeln!(md)?;
    writeln!(
        md,
        "| run | sent / acked | acked msg/s | errors | server / generator / Redis CPU (cores) | sync lag max (s) / buffer depth max / drained after (s) |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|")?;
    let mut runs: Vec<(String, String)> = Vec::new();
    for r in &rates {
        for (s, label) in [("sio", "socket.io peer"), ("chat", "this server")] {
            runs.push((
                format!("{s}-dm-{r}"),
                format!("{label}, {} msg/s", fmt_int(Some(*r as f64))),
            ));
        }
    }
    runs.push(("sio-dm-max".into(), "socket.io peer, closed loop".into()));
    runs.push(("chat-dm-max".into(), "this server, closed loop".into()));
    for r in &erates {
        runs.push((
            format!("embedded-dm-{r}"),
            format!("embedded, {} msg/s", fmt_int(Some(*r as f64))),
        ));
    }
    runs.push(("embedded-dm-max".into(), "embedded, closed loop".into()));
    for (file, label) in runs {
        let v = get(&file);
        if v.is_null() {
            writeln!(md, "| {label} | n/a | | | | |")?;
            continue;
        }
        let sync = match v.get("sync") {
            Some(s) if !s.is_null() => format!(
                "{} / {} / {}",
                fmt_f(num(s, &["max_lag_secs"]), 2),
                fmt_int(num(s, &["max_depth"])),
                match num(s, &["drain_secs"]) {
                    Some(d) => format!("{d:.1}"),
                    None => "not within the wait".into(),
                }
            ),
            _ => "n/a".into(),
        };
        writeln!(
            md,
            "| {label} | {} / {} | {} | {} | {} / {} / {} | {sync} |",
            fmt_int(num(&v, &["sent"])),
            fmt_int(num(&v, &["acked"])),
            fmt_int(num(&v, &["acked_per_sec"])),
            errors_cell(&v, "errors"),
            fmt_f(num(&v, &["server_cores"]), 2),
            fmt_f(num(&v, &["generator_cores"]), 2),
            fmt_f(num(&v, &["redis_cores"]), 2)
        )?;
    }
    writeln!(md)?;
    Ok(())
}
