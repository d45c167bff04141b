//! Readings from /proc: resident memory and CPU time of a process.

use std::sync::OnceLock;

use anyhow::{Context, Result};

/// `VmRSS` of process `pid`, in KiB.
pub fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("process {pid}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no VmRSS for process {pid}"))
}

/// Resident memory of a process (KiB), from /proc/PID/status: `VmRSS` = `RssAnon` + `RssFile` +
/// `RssShmem`. `RssFile` is file pages mapped into the process (the binary, and the search
/// index's mmapped segments): page cache the kernel drops under pressure, shared with every
/// process that maps the same files. `RssAnon` (+ `RssShmem`) is the process's own memory: the
/// heap (what the allocator holds, used or retained) and the stacks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mem {
    pub rss: u64,
    pub anon: u64,
    pub file: u64,
    pub shmem: u64,
}

impl Mem {
    /// The process's own memory: `RssAnon` + `RssShmem`.
    pub fn own(&self) -> u64 {
        self.anon + self.shmem
    }
}

impl std::ops::Add for Mem {
    type Output = Mem;
    fn add(self, o: Mem) -> Mem {
        Mem {
            rss: self.rss + o.rss,
            anon: self.anon + o.anon,
            file: self.file + o.file,
            shmem: self.shmem + o.shmem,
        }
    }
}

/// [`Mem`] of process `pid`.
pub fn mem_kb(pid: u32) -> Result<Mem> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("process {pid}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .with_context(|| format!("no {name} for process {pid}"))
    };
    Ok(Mem {
        rss: field("VmRSS:")?,
        anon: field("RssAnon:")?,
        file: field("RssFile:")?,
        shmem: field("RssShmem:")?,
    })
}

/// User + system CPU time of process `pid` (`self` for this one), in seconds.
pub fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks())
}

/// User + system CPU time of this process's children that were waited for, in seconds.
pub fn children_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are fields 16 and 17 of the whole line.
    let ticks: u64 = fields.get(13)?.parse::<u64>().ok()? + fields.get(14)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks())
}

fn clock_ticks() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU use of a process between two points, as a share of one core (1.0 = one core busy).
pub struct CpuMeter {
    pid: String,
    start: Option<f64>,
    at: std::time::Instant,
}

impl CpuMeter {
    pub fn start(pid: &str) -> Self {
        Self {
            pid: pid.to_owned(),
            start: cpu_secs(pid),
            at: std::time::Instant::now(),
        }
    }

    /// Cores used on average since `start`.
    pub fn cores(&self) -> Option<f64> {
        let secs = self.at.elapsed().as_secs_f64();
        Some((cpu_secs(&self.pid)? - self.start?) / secs.max(1e-6))
    }
}
