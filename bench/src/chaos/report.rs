//! CHAOS.md from the results of one `make chaos` run.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::run::ChaosResult;

/// What the script knows about the run.
#[derive(Deserialize)]
pub struct Meta {
    pub started: String,
    pub commit: String,
    pub duration: String,
    pub machine: String,
    pub settings: String,
}

fn mib(kb: u64) -> String {
    format!("{:.0}", kb as f64 / 1024.0)
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The columns of a scenario's row: the results table of CHAOS.md, and the line `chaos run`
/// prints (see [`summary_line`]), so both read the same.
pub const COLUMNS: [&str; 13] = [
    "scenario",
    "fault",
    "verdict",
    "acked msg/s before / during / after",
    "fault lasted (s)",
    "acked",
    "resent",
    "reconnects (longest offline, s)",
    "MariaDB: missing / changed / twice / unacked, rooms gap-free",
    "clients: duplicates / conflicts / gaps",
    "drained after (s)",
    "own memory before → after (MiB)",
    "VmRSS before → after (MiB)",
];

/// A scenario's row, one cell per [`COLUMNS`] entry.
pub fn row(r: &ChaosResult) -> [String; 13] {
    let s = &r.store;
    let first = r.rounds.first().cloned().unwrap_or_default();
    let fault = if r.rounds.len() > 1 {
        format!("{} (twice)", r.fault)
    } else {
        r.fault.clone()
    };
    [
        r.scenario.clone(),
        fault,
        format!("**{}**", if r.pass { "PASS" } else { "FAIL" }),
        format!(
            "{} / {} / {}",
            thousands(r.before.per_sec),
            thousands(first.during.per_sec),
            thousands(first.after.per_sec)
        ),
        r.rounds
            .iter()
            .map(|x| format!("{:.1}", x.during.secs))
            .collect::<Vec<_>>()
            .join(", "),
        thousands(r.acked as f64),
        thousands(r.resent as f64),
        format!(
            "{} ({:.1})",
            thousands(r.reconnects as f64),
            r.max_offline_ms as f64 / 1000.0
        ),
        format!(
            "{} / {} / {} / {}, {}/{}",
            s.acked_missing,
            s.acked_changed,
            s.stored_twice,
            s.stored_not_acked,
            s.rooms_checked - s.rooms_with_gaps,
            s.rooms_checked
        ),
        format!("{} / {} / {}", r.duplicates, r.conflicts, s.client_gaps),
        r.drain_secs.map_or("never".into(), |d| format!("{d:.1}")),
        format!(
            "{} → {} ({:.2}×)",
            mib(r.mem_baseline.own()),
            mib(r.mem_after.own()),
            r.own_ratio
        ),
        format!(
            "{} → {} ({:.2}×)",
            mib(r.mem_baseline.rss),
            mib(r.mem_after.rss),
            r.rss_ratio
        ),
    ]
}

/// What `chaos run` prints when a scenario ends: its row, led by the verdict and the scenario,
/// then every other cell after its column's name.
pub fn summary_line(r: &ChaosResult) -> String {
    let cells = row(r);
    let rest: Vec<String> = COLUMNS
        .iter()
        .zip(&cells)
        .filter(|(c, _)| !matches!(**c, "scenario" | "verdict"))
        .map(|(c, v)| format!("{c}: {v}"))
        .collect();
    format!(
        "{} {}: {}",
        if r.pass { "PASS" } else { "FAIL" },
        r.scenario,
        rest.join("; ")
    )
}

/// Writes the report from `results/*.json` (one per scenario, in file name order) and
/// `results/meta.json`.
pub fn write(results: &Path, out: &Path) -> Result<()> {
    let meta: Meta = serde_json::from_slice(
        &std::fs::read(results.join("meta.json")).context("read meta.json")?,
    )?;
    let mut files: Vec<_> = std::fs::read_dir(results)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("meta.json"))
        .collect();
    files.sort();
    let mut runs = Vec::new();
    for f in files {
        let r: ChaosResult = serde_json::from_slice(&std::fs::read(&f)?)
            .with_context(|| format!("read {}", f.display()))?;
        runs.push(r);
    }

    let mut md = String::new();
    let _ = writeln!(md, "# Chaos: faults under full load (issue 19)\n");
    let _ = writeln!(
        md,
        "Written by `make chaos` (`scripts/chaos.sh`, the `chaos` binary of `bench/`); the figures \
         are from the run of {} at commit {}, on {}. It took {}.\n",
        meta.started, meta.commit, meta.machine, meta.duration
    );
    let _ = writeln!(
        md,
        "Every scenario starts a closed-loop dm load (both members of every dm connected, a window \
         of sends in flight per client), measures the rate it reaches and the servers' RSS, then \
         the script injects the fault while the load runs. The clients behave like real ones: \
         they record every ack, reconnect when their connection breaks (to the next node when \
         theirs refuses), `sync` from the last seq up to which they have everything, and resend \
         every unacked message with the same client id; a send answered with an error is resent \
         200 ms later. After the fault the load runs on, then sending stops, every client waits \
         for its last acks and syncs once more, the Syncer drains the Redis buffer, and the run \
         checks:\n\n\
         - MariaDB holds every acked message exactly once, with the acked id and seq, and nothing \
         of the run that was not acked; every dm's seqs are exactly 1..`rooms.last_seq`;\n\
         - no client got a message more often than its live stream plus the syncs it asked for \
         explain (duplicate), no seq or client id was answered with two different ids \
         (conflict), and after the final sync every client holds every seq after its first \
         `hello` (gap), with the stored id;\n\
         - the buffer drained with no dead letters, and the servers' own memory after recovery \
         and drain (of the Redis buffer, then of the search indexer's backlog: no catch-up \
         running and the index's document count steady for a second) is at most {:.0}% above \
         its level under load before the fault.\n\n\
         Memory: `VmRSS` (what `ps` calls RSS) is `RssAnon` + `RssFile` + `RssShmem` \
         (/proc/PID/status). `RssFile` is file pages mapped into the process, nearly all of them \
         the search index's mmapped segment files (tantivy): page cache, which the kernel drops \
         when memory is short and which grows with the index and with what was searched or \
         merged, not with what the process allocated. The process's own memory is `RssAnon` + \
         `RssShmem`: the heap (mimalloc's, which keeps freed pages for reuse a while before it \
         returns them) and the stacks. The check compares the own memory; `VmRSS` is reported \
         beside it. When a fault is injected twice, the own memory under load after each round \
         tells a leak (it grows again by about as much with every fault) from memory the \
         allocator retains (it stays at the level the first round reached).\n",
        runs.first().map_or(20.0, |r| (r.rss_limit - 1.0) * 100.0)
    );
    let _ = writeln!(md, "Settings: {}\n", meta.settings);
    let _ = writeln!(md, "| {} |", COLUMNS.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(COLUMNS.len()));
    for r in &runs {
        let _ = writeln!(md, "| {} |", row(r).join(" | "));
    }
    let _ = writeln!(
        md,
        "\nThe \"during\" and \"after\" rates are those of the first fault; \"fault lasted\" lists every \
         injection.\n\nMemory of the servers (MiB), per stage:\n"
    );
    let _ = writeln!(
        md,
        "| scenario | stage | VmRSS | RssAnon | RssFile | RssShmem | own (anon + shmem) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for r in &runs {
        let mut stages = vec![("under load before the fault".to_owned(), r.mem_before)];
        for (k, x) in r.rounds.iter().enumerate() {
            stages.push((format!("under load after fault {}", k + 1), x.mem));
        }
        stages.push((
            "after recovery, final syncs and drain (no load)".to_owned(),
            r.mem_after,
        ));
        for (stage, m) in stages {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.scenario,
                stage,
                mib(m.rss),
                mib(m.anon),
                mib(m.file),
                mib(m.shmem),
                mib(m.own())
            );
        }
    }
    let _ = writeln!(md, "\nWhat the memory compares, per scenario:\n");
    for r in &runs {
        let mut line = format!("- {}: {}.", r.scenario, r.rss_note);
        if let [a, b, ..] = r.rounds.as_slice() {
            let own = |m: &crate::procfs::Mem| m.own() as f64 / 1024.0;
            let _ = write!(
                line,
                " Own memory under load: {:+.0} MiB from before the fault to after fault 1, {:+.0} MiB from fault 1 to fault 2.",
                own(&a.mem) - own(&r.mem_before),
                own(&b.mem) - own(&a.mem)
            );
        }
        let _ = writeln!(md, "{line}");
    }
    let failures: Vec<_> = runs
        .iter()
        .flat_map(|r| {
            r.failures
                .iter()
                .map(move |f| format!("{}: {f}", r.scenario))
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(md, "\nFailures:\n");
        for f in failures {
            let _ = writeln!(md, "- {f}");
        }
    }
    let errors: Vec<_> = runs
        .iter()
        .filter(|r| !r.errors.is_empty())
        .map(|r| format!("{}: {:?}", r.scenario, r.errors))
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(
            md,
            "\nError frames the clients got (each answered send was resent): {}.",
            errors.join("; ")
        );
    }
    std::fs::write(out, md)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::chaos::run::{Rate, Round};
    use crate::procfs::Mem;

    fn kill9() -> ChaosResult {
        let rate = |secs, per_sec| Rate {
            secs,
            acks: 0,
            per_sec,
        };
        let mem = |rss_mib: u64, anon_mib: u64| Mem {
            rss: rss_mib * 1024,
            anon: anon_mib * 1024,
            file: (rss_mib - anon_mib) * 1024,
            shmem: 0,
        };
        let mut r = ChaosResult {
            scenario: "kill9".into(),
            fault: "kill -9 of the server, restarted on the same port".into(),
            before: rate(3.0, 7146.0),
            rounds: vec![
                Round {
                    during: rate(0.5, 646.0),
                    after: rate(5.0, 6357.0),
                    mem: mem(318, 262),
                },
                Round {
                    during: rate(0.5, 600.0),
                    after: rate(5.0, 6000.0),
                    mem: mem(311, 254),
                },
            ],
            acked: 245_529,
            resent: 6_904,
            reconnects: 1_726,
            max_offline_ms: 12_400,
            drain_secs: Some(37.2),
            mem_baseline: mem(285, 230),
            mem_after: mem(279, 224),
            own_ratio: 0.98,
            rss_ratio: 0.98,
            pass: true,
            ..Default::default()
        };
        r.store.rooms_checked = 500;
        r
    }

    /// The row of CHAOS.md's table is what it was before the console line shared it.
    #[test]
    fn a_table_row_keeps_its_format() {
        let want =
            "| kill9 | kill -9 of the server, restarted on the same port (twice) | **PASS** | \
                    7,146 / 646 / 6,357 | 0.5, 0.5 | 245,529 | 6,904 | 1,726 (12.4) | \
                    0 / 0 / 0 / 0, 500/500 | 0 / 0 / 0 | 37.2 | 230 → 224 (0.98×) | \
                    285 → 279 (0.98×) |";
        assert_eq!(format!("| {} |", row(&kill9()).join(" | ")), want);
    }

    /// `chaos run` prints the same cells, each after its column's name.
    #[test]
    fn the_console_line_has_the_cells_of_the_row() {
        let r = kill9();
        let line = summary_line(&r);
        assert!(
            line.starts_with("PASS kill9: fault: kill -9 of the server"),
            "{line}"
        );
        for (c, v) in COLUMNS.iter().zip(row(&r)).skip(3) {
            assert!(
                line.contains(&format!("{c}: {v}")),
                "{c} missing from {line}"
            );
        }
        assert!(line.contains("acked msg/s before / during / after: 7,146 / 646 / 6,357"));
    }
}
