//! `insertbench`: how fast messages go into MariaDB through the server's own write path
//! (`Store::apply_writes`, what the Syncer runs: one transaction per batch, an id lookup for
//! idempotency, SeaORM multi-row inserts of 500 rows, a `last_seq` update per room), through bare
//! SeaORM `insert_many`, and through a raw multi-row INSERT (`execute_unprepared`), with the same
//! rows and the same transaction size, each into a fresh database. Prints and writes rows/s.
//!
//!     insertbench --url mysql://chat:chat@127.0.0.1:3306/chat --rows 20000 --out insert.json

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chat_server::ids::{MessageId, RoomId, UserId};
use chat_server::store::{NewMessage, Store, WriteOp};
use clap::Parser;
use entities::message;
use sea_orm::{ConnectionTrait, Database, EntityTrait, TransactionTrait};
use serde::Serialize;

#[derive(Parser)]
#[command(about = "SeaORM batch insert vs raw multi-row INSERT into MariaDB (loopback only)")]
struct Cli {
    /// URL of an existing database on the server; fresh databases are created beside it.
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 20000)]
    rows: usize,
    /// Rows per transaction (the Syncer commits one batch of stream entries per transaction).
    #[arg(long, default_value_t = 1000)]
    txn_rows: usize,
    /// Rooms the messages are spread over.
    #[arg(long, default_value_t = 100)]
    rooms: usize,
    #[arg(long, default_value_t = 100)]
    body: usize,
    /// Runs of each method (fresh database each); the best counts.
    #[arg(long, default_value_t = 2)]
    repeat: usize,
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Serialize)]
struct InsertResult {
    rows: usize,
    txn_rows: usize,
    rooms: usize,
    body: usize,
    /// Best of `repeat` runs, rows per second.
    apply_writes_rows_per_sec: f64,
    seaorm_insert_many_rows_per_sec: f64,
    raw_rows_per_sec: f64,
    /// apply_writes / raw (goal of issue 3: at least 0.5).
    ratio: f64,
    runs: Vec<(String, f64)>,
}

#[derive(Clone, Copy, Debug)]
enum Method {
    ApplyWrites,
    InsertMany,
    Raw,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    let Some((base, _db)) = cli.url.rsplit_once('/') else {
        bail!("--url needs a database name")
    };
    let host = base.rsplit('@').next().unwrap_or_default();
    if !(host.starts_with("127.") || host.starts_with("localhost")) {
        bail!("refusing a non-loopback database {host}");
    }
    let admin = Database::connect(cli.url.as_str())
        .await
        .context("connect")?;
    let rooms: Vec<RoomId> = (0..cli.rooms.max(1)).map(|_| RoomId::generate()).collect();
    let sender = UserId::generate();
    let rows: Vec<NewMessage> = (0..cli.rows)
        .map(|i| NewMessage {
            id: MessageId::generate(),
            room: rooms[i % rooms.len()].clone(),
            seq: (i / rooms.len()) as i64 + 1,
            sender: sender.clone(),
            client_id: format!("bench-{i}"),
            body: body(i, cli.body),
            attachments: vec![],
            reply_to: None,
            ts: 1_700_000_000_000 + i as i64,
            mentions: vec![],
            forwarded: false,
        })
        .collect();
    let mut runs = Vec::new();
    let mut best = [0f64; 3];
    for round in 0..cli.repeat.max(1) {
        for (k, method) in [Method::Raw, Method::ApplyWrites, Method::InsertMany]
            .into_iter()
            .enumerate()
        {
            let name = format!("bench_ins_{}_{}_{}", std::process::id(), k, round);
            admin
                .execute_unprepared(&format!(
                    "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                ))
                .await?;
            let result = timed(
                &format!("{base}/{name}"),
                method,
                &rows,
                &rooms,
                cli.txn_rows,
            )
            .await;
            admin
                .execute_unprepared(&format!("DROP DATABASE {name}"))
                .await?;
            let rate = result?;
            eprintln!("insert {method:?} round {round}: {rate:.0} rows/s");
            runs.push((format!("{method:?}"), rate));
            best[k] = best[k].max(rate);
        }
    }
    let result = InsertResult {
        rows: cli.rows,
        txn_rows: cli.txn_rows,
        rooms: rooms.len(),
        body: cli.body,
        raw_rows_per_sec: best[0],
        apply_writes_rows_per_sec: best[1],
        seaorm_insert_many_rows_per_sec: best[2],
        ratio: best[1] / best[0].max(1e-9),
        runs,
    };
    eprintln!(
        "insert: apply_writes {:.0} rows/s, SeaORM insert_many {:.0} rows/s, raw INSERT {:.0} rows/s, ratio {:.2}",
        result.apply_writes_rows_per_sec, result.seaorm_insert_many_rows_per_sec, result.raw_rows_per_sec, result.ratio
    );
    if let Some(out) = cli.out {
        std::fs::write(&out, serde_json::to_string_pretty(&result)?)?;
    }
    Ok(())
}

fn body(i: usize, len: usize) -> String {
    let mut s = format!("message {i}: ");
    while s.len() < len {
        s.push_str("héllo wörld 👋 ");
    }
    s.chars().take(len).collect()
}

/// Migrates a fresh database, makes the rooms, then inserts every row; rows per second of the
/// inserts alone.
async fn timed(
    url: &str,
    method: Method,
    rows: &[NewMessage],
    rooms: &[RoomId],
    txn_rows: usize,
) -> Result<f64> {
    let store = Store::connect(url, 4).await?;
    for r in rooms {
        store
            .db
            .execute_unprepared(&format!(
                "INSERT INTO rooms (id, kind, name, dm_key, created_by, created_at, last_seq) VALUES ('{}', 'group', 'bench', NULL, 'bench', 0, 0)",
                r.0
            ))
            .await?;
    }
    let started = Instant::now();
    for batch in rows.chunks(txn_rows.max(1)) {
        match method {
            Method::ApplyWrites => {
                let ops: Vec<WriteOp> = batch.iter().cloned().map(WriteOp::Message).collect();
                store.apply_writes(&ops).await?;
            }
            Method::InsertMany => {
                let txn = store.db.begin().await?;
                for chunk in batch.chunks(500) {
                    let models = chunk.iter().map(NewMessage::row);
                    message::Entity::insert_many(models)
                        .exec_without_returning(&txn)
                        .await?;
                }
                txn.commit().await?;
            }
            Method::Raw => {
                let txn = store.db.begin().await?;
                for chunk in batch.chunks(500) {
                    let mut sql = String::with_capacity(chunk.len() * (m_len(chunk) + 200));
                    sql.push_str(
                        "INSERT INTO messages (id, room_id, seq, sender_id, client_id, body, attachments, reply_to, created_at, edited_at, deleted) VALUES ",
                    );
                    for (i, m) in chunk.iter().enumerate() {
                        if i > 0 {
                            sql.push(',');
                        }
                        sql.push_str(&format!(
                            "('{}','{}',{},'{}','{}','{}',NULL,NULL,{},NULL,0)",
                            esc(&m.id.0),
                            esc(&m.room.0),
                            m.seq,
                            esc(&m.sender.0),
                            esc(&m.client_id),
                            esc(&m.body),
                            m.ts
                        ));
                    }
                    txn.execute_unprepared(&sql).await?;
                }
                txn.commit().await?;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let stored = store
        .db
        .query_one(sea_orm::Statement::from_string(
            store.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM messages",
        ))
        .await?
        .context("count")?
        .try_get::<i64>("", "n")?;
    if stored as usize != rows.len() {
        bail!("{method:?}: {stored} rows stored, {} expected", rows.len());
    }
    Ok(rows.len() as f64 / secs.max(1e-9))
}

fn m_len(chunk: &[NewMessage]) -> usize {
    chunk.first().map(|m| m.body.len()).unwrap_or(0)
}

/// A MariaDB string literal body (default sql_mode: backslash escapes are on).
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "''")
}
