//! What MariaDB holds after a run, read with the `mariadb` command-line client, against what the
//! clients were acked and what they received.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::client::Outcome;

/// The MariaDB server of the run (root over its socket).
pub struct Db {
    pub socket: PathBuf,
    pub database: String,
}

impl Db {
    /// Rows of `sql`, tab-separated columns.
    fn rows(&self, sql: &str) -> Result<Vec<Vec<String>>> {
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["--batch", "--skip-column-names", "-e", sql, &self.database])
            .output()
            .context("run the mariadb client")?;
        if !out.status.success() {
            bail!("mariadb: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect())
    }
}

/// Everything that can be wrong, counted; all zero is a pass.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StoreVerdict {
    /// Rows of this run (client ids with the run's tag).
    pub rows: u64,
    /// Client ids acked to the clients.
    pub acked: u64,
    /// Acked, but no row with that client id.
    pub acked_missing: u64,
    /// Acked, and stored with another message id or seq.
    pub acked_changed: u64,
    /// Client ids stored more than once.
    pub stored_twice: u64,
    /// Rows of this run whose client id no client holds an ack for (clients resend until
    /// acked, so each one should have been answered).
    pub stored_not_acked: u64,
    /// Rooms of the run whose seqs are not exactly 1..=rooms.last_seq.
    pub rooms_checked: u64,
    pub rooms_with_gaps: u64,
    /// Seqs in (first hello, last_seq] that a client never received, summed over the clients.
    pub client_gaps: u64,
    /// Seqs a client received that MariaDB does not hold under that id.
    pub client_mismatches: u64,
    /// The first few problems in words.
    pub examples: Vec<String>,
}

impl StoreVerdict {
    pub fn ok(&self) -> bool {
        self.acked_missing == 0
            && self.acked_changed == 0
            && self.stored_twice == 0
            && self.stored_not_acked == 0
            && self.rooms_with_gaps == 0
            && self.client_gaps == 0
            && self.client_mismatches == 0
    }

    fn example(&mut self, what: String) {
        if self.examples.len() < 5 {
            self.examples.push(what);
        }
    }
}

/// Checks MariaDB against the clients' outcomes: each acked message stored exactly once as
/// acked, seqs per room gap-free from 1 to the room's last_seq, and every client holding every
/// seq after its first `hello` (after its final sync) with the stored id.
pub fn check(db: &Db, tag: &str, outcomes: &[Outcome]) -> Result<StoreVerdict> {
    let mut v = StoreVerdict::default();
    let rooms: HashSet<&str> = outcomes.iter().map(|o| o.room.as_str()).collect();

    // Whole rooms, including what earlier runs wrote into them.
    let mut last_seq: HashMap<String, i64> = HashMap::new();
    for r in db.rows(
        "SELECT r.id, r.last_seq, COUNT(m.id), COUNT(DISTINCT m.seq), COALESCE(MIN(m.seq), 0), \
         COALESCE(MAX(m.seq), 0) FROM rooms r LEFT JOIN messages m ON m.room_id = r.id \
         WHERE r.kind = 'dm' GROUP BY r.id, r.last_seq",
    )? {
        let [id, last, count, distinct, min, max] = r.as_slice() else {
            bail!("unexpected row {r:?}");
        };
        if !rooms.contains(id.as_str()) {
            continue;
        }
        let n = |s: &str| s.parse::<i64>().unwrap_or(-1);
        let (last, count, distinct, min, max) = (n(last), n(count), n(distinct), n(min), n(max));
        v.rooms_checked += 1;
        let gap_free = count == last && distinct == last && max == last && (last == 0 || min == 1);
        if !gap_free {
            v.rooms_with_gaps += 1;
            v.example(format!(
                "room {id}: last_seq {last}, {count} rows, {distinct} distinct seqs, {min}..{max}"
            ));
        }
        last_seq.insert(id.clone(), last);
    }

    // This run's rows, by client id and by (room, seq).
    let mut by_cid: HashMap<String, (String, i64)> = HashMap::new();
    let mut by_seq: HashMap<(String, i64), String> = HashMap::new();
    for r in db.rows(&format!(
        "SELECT client_id, room_id, seq, id FROM messages WHERE client_id LIKE '{tag}.%'"
    ))? {
        let [cid, room, seq, id] = r.as_slice() else {
            bail!("unexpected row {r:?}");
        };
        let seq: i64 = seq.parse().unwrap_or(-1);
        v.rows += 1;
        if by_cid.insert(cid.clone(), (id.clone(), seq)).is_some() {
            v.stored_twice += 1;
            v.example(format!("{cid} stored twice"));
        }
        by_seq.insert((room.clone(), seq), id.clone());
    }

    let mut acked: HashSet<&str> = HashSet::new();
    for o in outcomes {
        for (cid, (id, seq)) in &o.acks {
            acked.insert(cid);
            v.acked += 1;
            match by_cid.get(cid) {
                None => {
                    v.acked_missing += 1;
                    v.example(format!("acked {cid} (seq {seq}) is not in MariaDB"));
                }
                Some((sid, sseq)) if (sid, sseq) != (id, seq) => {
                    v.acked_changed += 1;
                    v.example(format!(
                        "acked {cid} as {id} seq {seq}, stored {sid} seq {sseq}"
                    ));
                }
                Some(_) => {}
            }
        }
        let last = last_seq.get(&o.room).copied().unwrap_or(0);
        for seq in o.base + 1..=last {
            match (o.known.get(&seq), by_seq.get(&(o.room.clone(), seq))) {
                (None, _) => {
                    v.client_gaps += 1;
                    if v.client_gaps == 1 {
                        v.example(format!(
                            "client {} never got seq {seq} of {} (after seq {})",
                            o.idx, o.room, o.base
                        ));
                    }
                }
                (Some(id), Some(stored)) if id != stored => {
                    v.client_mismatches += 1;
                    v.example(format!(
                        "client {} got seq {seq} as {id}, stored {stored}",
                        o.idx
                    ));
                }
                _ => {}
            }
        }
        let beyond = o.known.range(last + 1..).count() as u64;
        if beyond > 0 {
            v.client_mismatches += beyond;
            v.example(format!(
                "client {} got {beyond} seqs beyond the stored last_seq {last}",
                o.idx
            ));
        }
    }
    v.stored_not_acked = by_cid
        .keys()
        .filter(|c| !acked.contains(c.as_str()))
        .count() as u64;
    if v.stored_not_acked > 0 {
        v.example(format!(
            "{} stored messages of this run were never acked to their sender",
            v.stored_not_acked
        ));
    }
    Ok(v)
}
