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
         - the buffer drained with no dead letters, and the servers' RSS after recovery and \
         drain is at most {:.0}% above the RSS under load before the fault.\n",
        runs.first().map_or(20.0, |r| (r.rss_limit - 1.0) * 100.0)
    );
    let _ = writeln!(md, "Settings: {}\n", meta.settings);
    let _ = writeln!(
        md,
        "| scenario | fault | verdict | acked msg/s before / during / after | fault lasted (s) | acked | resent | reconnects (longest offline, s) | MariaDB: missing / changed / twice / unacked, rooms gap-free | clients: duplicates / conflicts / gaps | drained after (s) | RSS before → after (MiB) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &runs {
        let s = &r.store;
        let _ = writeln!(
            md,
            "| {} | {} | **{}** | {} / {} / {} | {:.1} | {} | {} | {} ({:.1}) | {} / {} / {} / {}, {}/{} | {} / {} / {} | {} | {} → {} ({:.2}×) |",
            r.scenario,
            r.fault,
            if r.pass { "PASS" } else { "FAIL" },
            thousands(r.before.per_sec),
            thousands(r.during.per_sec),
            thousands(r.after.per_sec),
            r.during.secs,
            thousands(r.acked as f64),
            thousands(r.resent as f64),
            thousands(r.reconnects as f64),
            r.max_offline_ms as f64 / 1000.0,
            s.acked_missing,
            s.acked_changed,
            s.stored_twice,
            s.stored_not_acked,
            s.rooms_checked - s.rooms_with_gaps,
            s.rooms_checked,
            r.duplicates,
            r.conflicts,
            s.client_gaps,
            r.drain_secs.map_or("never".into(), |d| format!("{d:.1}")),
            mib(r.rss_before_kb),
            mib(r.rss_after_kb),
            r.rss_ratio,
        );
    }
    let _ = writeln!(md, "\nWhat the RSS columns compare, per scenario:\n");
    for r in &runs {
        let _ = writeln!(
            md,
            "- {}: {} ({} MiB under load after recovery, before the drain).",
            r.scenario,
            r.rss_note,
            mib(r.rss_after_load_kb)
        );
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
