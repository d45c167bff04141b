//! `searchbench`: message search over a large history (issue 18), run by `make bench-search`
//! (scripts/bench-search.sh).
//!
//!     searchbench generate --url DB --messages 1000000 --rooms 1000 --member-rooms 50 --out setup.json
//!
//! writes the history straight into the database (migrated through the server's own `Store`):
//! one searcher who is a member of `member-rooms` of the `rooms` groups, another member in every
//! room, and `messages` messages spread evenly over the rooms, 4 to 16 words each drawn from a
//! vocabulary of 20,000 made-up words with Zipf-distributed frequencies (so a query word may
//! match a few messages or a tenth of them), sent over the last 30 days.
//!
//!     searchbench query --http http://127.0.0.1:PORT --setup setup.json --queries 500 --out r.json
//!
//! waits until the server's index holds every message (it rebuilds it at start: an index built
//! from SQL, as after a loss), then sends one-word searches one after another as the searcher
//! (`GET /api/search?q=WORD`, relevance and then `sort=newest`, 20 results), words chosen evenly
//! among frequent, middling and rare ones, and records the latency of each.
//!
//!     searchbench report --results DIR --out BENCHMARKS.md
//!
//! puts the section `search` into BENCHMARKS.md (between its markers, replacing the previous
//! one) from DIR/{sqlite,mariadb}.json, DIR/dm-*.json (loadgen's closed-loop dm runs with the
//! index on and off) and DIR/meta.json.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chat_server::ids::{MessageId, UserId};
use chat_server::store::Store;
use clap::{Parser, Subcommand};
use entities::{message, room, room_member};
use hdrhistogram::Histogram;
use sea_orm::{ConnectionTrait, EntityTrait, Set, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "Message search latency over a generated history (loopback only)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Generate(GenerateArgs),
    Query(QueryArgs),
    Report(ReportArgs),
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// Database URL (sqlite://... or mysql://...), empty or new.
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    #[arg(long, default_value_t = 1000)]
    rooms: usize,
    /// Rooms the searcher is a member of.
    #[arg(long, default_value_t = 50)]
    member_rooms: usize,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct QueryArgs {
    /// The server's base URL (loopback only).
    #[arg(long)]
    http: String,
    #[arg(long)]
    setup: PathBuf,
    /// Searches per order (relevance, newest).
    #[arg(long, default_value_t = 500)]
    queries: usize,
    /// Longest wait for the index to hold every message.
    #[arg(long, default_value_t = 1800)]
    ready_secs: u64,
    /// Label of the storage mode, for the report.
    #[arg(long)]
    mode: String,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct ReportArgs {
    #[arg(long)]
    results: PathBuf,
    #[arg(long)]
    out: PathBuf,
}

/// What `generate` leaves for `query`.
#[derive(Serialize, Deserialize)]
struct Setup {
    token: String,
    messages: usize,
    rooms: usize,
    member_rooms: usize,
    /// Query words: frequent, middling and rare, in turn.
    words: Vec<String>,
    generate_secs: f64,
}

/// Vocabulary size.
const VOCABULARY: usize = 20_000;
/// Rows per INSERT statement.
const ROWS_PER_INSERT: usize = 500;
/// Statements per transaction.
const INSERTS_PER_TXN: usize = 20;

/// splitmix64: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The `i`th made-up word (distinct for distinct `i`): syllables spelling `i` in base 20.
fn word(i: usize) -> String {
    const SYL: [&str; 20] = [
        "ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "va", "ze", "bo", "du", "fi", "go", "hu",
        "je", "ki", "ly", "mo", "ne",
    ];
    let mut n = i + 20; // at least two syllables
    let mut out = String::new();
    while n > 0 {
        out.push_str(SYL[n % 20]);
        n /= 20;
    }
    out
}

/// Cumulative Zipf weights (s = 1) over the vocabulary ranks.
fn zipf_table() -> Vec<f64> {
    let mut acc = 0.0;
    let mut t: Vec<f64> = (0..VOCABULARY)
        .map(|r| {
            acc += 1.0 / (r as f64 + 1.0);
            acc
        })
        .collect();
    for x in &mut t {
        *x /= acc;
    }
    t
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn generate(a: GenerateArgs) -> Result<()> {
    if a.member_rooms > a.rooms || a.rooms == 0 {
        bail!("--member-rooms must be at most --rooms (> 0)");
    }
    let started = Instant::now();
    let store = Store::connect(&a.url, 4).await?;
    let searcher = store
        .create_user("searcher", "Searcher", "not-a-password-hash")
        .await?;
    let other = store
        .create_user("author", "Author", "not-a-password-hash")
        .await?;
    let mut rng = Rng(0x5EA2C4);
    let token: String = (0..4).map(|_| format!("{:016x}", rng.next())).collect();
    let far = chat_server::ids::now_ms() + 365 * 24 * 3600 * 1000;
    store
        .insert_token(&sha256_hex(&token), &UserId(searcher.id.clone()), far, None)
        .await?;
    let now = chat_server::ids::now_ms();
    let room_ids: Vec<String> = (0..a.rooms)
        .map(|_| chat_server::ids::RoomId::generate().0)
        .collect();
    let per_room = a.messages.div_ceil(a.rooms) as i64;
    for chunk in room_ids.chunks(ROWS_PER_INSERT) {
        room::Entity::insert_many(chunk.iter().enumerate().map(|(i, id)| room::ActiveModel {
            id: Set(id.clone()),
            kind: Set("group".into()),
            name: Set(Some(format!("room {i}"))),
            dm_key: Set(None),
            created_by: Set(other.id.clone()),
            created_at: Set(now - 31 * 24 * 3600 * 1000),
            last_seq: Set(per_room),
            avatar_media: Set(None),
        }))
        .exec_without_returning(&store.db)
        .await?;
    }
    let member = |room: &str, user: &str, role: &str| room_member::ActiveModel {
        room_id: Set(room.to_owned()),
        user_id: Set(user.to_owned()),
        role: Set(role.to_owned()),
        joined_at: Set(now - 31 * 24 * 3600 * 1000),
        last_read_seq: Set(0),
        delivered_seq: Set(0),
    };
    let mut members: Vec<room_member::ActiveModel> = room_ids
        .iter()
        .map(|r| member(r, &other.id, "owner"))
        .collect();
    members.extend(
        room_ids
            .iter()
            .take(a.member_rooms)
            .map(|r| member(r, &searcher.id, "member")),
    );
    for chunk in members.chunks(ROWS_PER_INSERT) {
        room_member::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&store.db)
            .await?;
    }

    let zipf = zipf_table();
    let vocabulary: Vec<String> = (0..VOCABULARY).map(word).collect();
    let span_ms = 30 * 24 * 3600 * 1000i64;
    let mut seqs = vec![0i64; a.rooms];
    let mut done = 0usize;
    while done < a.messages {
        let txn = store.db.begin().await?;
        for _ in 0..INSERTS_PER_TXN {
            let n = ROWS_PER_INSERT.min(a.messages - done);
            if n == 0 {
                break;
            }
            let rows: Vec<message::ActiveModel> = (done..done + n)
                .map(|i| {
                    let r = i % a.rooms;
                    seqs[r] += 1;
                    let words = 4 + rng.below(13);
                    let body: Vec<&str> = (0..words)
                        .map(|_| {
                            let u = rng.unit();
                            let rank = zipf.partition_point(|c| *c < u).min(VOCABULARY - 1);
                            vocabulary[rank].as_str()
                        })
                        .collect();
                    message::ActiveModel {
                        id: Set(MessageId::generate().0),
                        room_id: Set(room_ids[r].clone()),
                        seq: Set(seqs[r]),
                        sender_id: Set(other.id.clone()),
                        client_id: Set(format!("g{i}")),
                        body: Set(body.join(" ")),
                        attachments: Set(None),
                        reply_to: Set(None),
                        created_at: Set(now - span_ms + (i as i64 * span_ms) / a.messages as i64),
                        edited_at: Set(None),
                        deleted: Set(false),
                        mentions: Set(None),
                        forwarded: Set(false),
                    }
                })
                .collect();
            message::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await?;
            done += n;
        }
        txn.commit().await?;
        if done % 100_000 < ROWS_PER_INSERT * INSERTS_PER_TXN {
            eprintln!("searchbench: {done} messages written");
        }
    }
    store
        .db
        .execute_unprepared(
            "UPDATE rooms SET last_seq = (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE messages.room_id = rooms.id)",
        )
        .await?;
    // Query words: 1 in 3 among the 100 most frequent, 1 in 3 among ranks 100-2,000, 1 in 3 rarer.
    let words: Vec<String> = (0..3000)
        .map(|i| {
            let rank = match i % 3 {
                0 => rng.below(100),
                1 => 100 + rng.below(1900),
                _ => 2000 + rng.below(VOCABULARY - 2000),
            };
            vocabulary[rank].clone()
        })
        .collect();
    let setup = Setup {
        token,
        messages: a.messages,
        rooms: a.rooms,
        member_rooms: a.member_rooms,
        words,
        generate_secs: started.elapsed().as_secs_f64(),
    };
    std::fs::write(&a.out, serde_json::to_vec_pretty(&setup)?)?;
    eprintln!(
        "searchbench: {} messages in {} rooms written in {:.1} s",
        a.messages, a.rooms, setup.generate_secs
    );
    Ok(())
}

/// An unlabelled metric of the server.
async fn metric(client: &reqwest::Client, http: &str, name: &str) -> Option<f64> {
    let text = client
        .get(format!("{http}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Latency summary of one order.
#[derive(Serialize, Deserialize)]
struct Summary {
    queries: usize,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    mean_results: f64,
    errors: usize,
}

async fn run_queries(
    client: &reqwest::Client,
    http: &str,
    token: &str,
    words: &[String],
    sort: &str,
) -> Result<Summary> {
    let mut h = Histogram::<u64>::new(3)?;
    let (mut results, mut errors) = (0usize, 0usize);
    for w in words {
        let t = Instant::now();
        let r = client
            .get(format!("{http}/api/search"))
            .query(&[("q", w.as_str()), ("sort", sort)])
            .bearer_auth(token)
            .send()
            .await?;
        let ok = r.status().is_success();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        h.record(t.elapsed().as_micros() as u64)?;
        if ok {
            results += body["results"].as_array().map_or(0, Vec::len);
        } else {
            errors += 1;
        }
    }
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Ok(Summary {
        queries: words.len(),
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        max_ms: h.max() as f64 / 1000.0,
        mean_results: results as f64 / words.len().max(1) as f64,
        errors,
    })
}

async fn query(a: QueryArgs) -> Result<()> {
    let url = reqwest::Url::parse(&a.http)?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("only a server on loopback may be benchmarked");
    }
    let setup: Setup = serde_json::from_slice(&std::fs::read(&a.setup)?)?;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(a.ready_secs);
    loop {
        let docs = metric(&client, &a.http, "chat_search_documents").await;
        let busy = metric(&client, &a.http, "chat_search_catching_up").await;
        if docs.is_some_and(|d| d as usize >= setup.messages) && busy == Some(0.0) {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the index did not hold every message within {} s",
                a.ready_secs
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready_secs = started.elapsed().as_secs_f64();
    eprintln!("searchbench: index ready after {ready_secs:.1} s");
    let n = a.queries.min(setup.words.len() / 2);
    run_queries(
        &client,
        &a.http,
        &setup.token,
        &setup.words[..50],
        "relevance",
    )
    .await?;
    let relevance = run_queries(
        &client,
        &a.http,
        &setup.token,
        &setup.words[..n],
        "relevance",
    )
    .await?;
    let newest = run_queries(
        &client,
        &a.http,
        &setup.token,
        &setup.words[n..2 * n],
        "newest",
    )
    .await?;
    let out = json!({
        "mode": a.mode,
        "messages": setup.messages,
        "rooms": setup.rooms,
        "member_rooms": setup.member_rooms,
        "generate_secs": setup.generate_secs,
        "index_ready_secs": ready_secs,
        "relevance": relevance,
        "newest": newest,
    });
    eprintln!("{}", serde_json::to_string_pretty(&out)?);
    std::fs::write(&a.out, serde_json::to_vec_pretty(&out)?)?;
    Ok(())
}

fn load(path: &Path) -> Value {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

fn num(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map_or_else(|| "n/a".into(), |x| format!("{x:.digits$}"))
}

const BEGIN: &str = "<!-- section:search -->";
const END: &str = "<!-- /section:search -->";

fn report(a: ReportArgs) -> Result<()> {
    let meta = load(&a.results.join("meta.json"));
    let s = |k: &str| meta[k].as_str().unwrap_or("n/a").to_owned();
    let mut md = format!("{BEGIN}\n## Search (issue 18)\n\n");
    md.push_str(&format!(
        "Measured by `make bench-search` (scripts/bench-search.sh) on {}, commit `{}`, load average {} at the start and {} at the end (2 cores shared with other work: treat single numbers with care). Settings: `{}`.\n\n",
        s("started"), s("commit"), s("load_start"), s("load_end"), s("settings")
    ));
    md.push_str("The history is written straight into the database by `searchbench generate` (1,000 groups, one searcher in 50 of them, words of a 20,000-word made-up vocabulary with Zipf frequencies); the server then rebuilds its index from SQL at start (\"index built\" below); then one client sends one-word searches one after another as the searcher, over HTTP (`GET /api/search?q=WORD`, 20 results, a third of the words frequent, a third middling, a third rare): relevance order first, then `sort=newest`. Latency is from sending the request to reading the whole answer. Goal: p99 ≤ 50 ms for a one-word query.\n\n");
    md.push_str("| storage | messages | history written | index built | index size | order | searches | p50 | p90 | p99 | max | results per search | goal p99 ≤ 50 ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (file, label) in [
        ("sqlite.json", "SQLite (embedded)"),
        ("mariadb.json", "MariaDB + Redis"),
    ] {
        let r = load(&a.results.join(file));
        let mode = file.trim_end_matches(".json");
        let size = std::fs::read_to_string(a.results.join(format!("{mode}-index-bytes")))
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .map_or("n/a".into(), |b| format!("{:.0} MiB", b / 1048576.0));
        for order in ["relevance", "newest"] {
            let o = &r[order];
            let p99 = o["p99_ms"].as_f64();
            md.push_str(&format!(
                "| {label} | {} | {} s | {} s | {size} | {order} | {} | {} ms | {} ms | {} ms | {} ms | {} | {} |\n",
                num(&r["messages"], 0),
                num(&r["generate_secs"], 0),
                num(&r["index_ready_secs"], 0),
                num(&o["queries"], 0),
                num(&o["p50_ms"], 2),
                num(&o["p90_ms"], 2),
                num(&o["p99_ms"], 2),
                num(&o["max_ms"], 2),
                num(&o["mean_results"], 1),
                match p99 {
                    Some(p) if p <= 50.0 => "met",
                    Some(_) => "**missed**",
                    None => "n/a",
                }
            ));
        }
    }
    md.push_str("\n### Does indexing lower the sustained dm rate?\n\nThe closed-loop dm run of `make bench-dm` (loadgen `dm --window 4`, server pinned to CPU 0 and the generator to CPU 1), on the same server build with `search.enabled` true and false, alternately, best of the runs of each; the difference is the cost of indexing every message on the write path. Goal: at most 10% lower with the index. On a shared 2-core machine the spread between runs of the same setting can be larger than the difference: compare the runs, not only the best.\n\n| storage | pairs | search on: msg/s (runs) | search off: msg/s (runs) | on / off | goal ≥ 0.90 |\n|---|---|---|---|---|---|\n");
    for (mode, label) in [
        ("embedded", "SQLite (embedded)"),
        ("redis", "MariaDB + Redis"),
    ] {
        let rates = |on: &str| -> Vec<f64> {
            (1..=5)
                .filter_map(|i| {
                    load(&a.results.join(format!("dm-{mode}-{on}-{i}.json")))["acked_per_sec"]
                        .as_f64()
                })
                .collect()
        };
        let (on, off) = (rates("on"), rates("off"));
        let best = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::max);
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ratio = best(&on) / best(&off);
        let pairs = load(&a.results.join(format!("dm-{mode}-on-1.json")))["conns"]
            .as_f64()
            .map_or("n/a".into(), |c| format!("{}", c as u64 / 2));
        md.push_str(&format!(
            "| {label} | {pairs} | {:.0} ({}) | {:.0} ({}) | {} | {} |\n",
            best(&on),
            list(&on),
            best(&off),
            list(&off),
            if ratio.is_finite() {
                format!("{ratio:.2}")
            } else {
                "n/a".into()
            },
            if !ratio.is_finite() {
                "n/a"
            } else if ratio >= 0.9 {
                "met"
            } else {
                "**missed**"
            }
        ));
    }
    md.push_str(&format!("\n{END}"));
    let text = std::fs::read_to_string(&a.out).unwrap_or_default();
    let text = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if e > b => format!("{}{md}{}", &text[..b], &text[e + END.len()..]),
        _ => match text.find("\n## Analysis") {
            Some(at) => format!("{}\n{md}\n{}", &text[..at], &text[at..]),
            None => format!("{}\n\n{md}\n", text.trim_end()),
        },
    };
    std::fs::write(&a.out, text)?;
    eprintln!("updated {} (search)", a.out.display());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Generate(a) => generate(a).await.context("generate"),
        Cmd::Query(a) => query(a).await.context("query"),
        Cmd::Report(a) => report(a).context("report"),
    }
}
