//! Real Redis and MariaDB servers for the integration tests.
//!
//! Every server runs as a child process of the test, listens on loopback only, on a port picked
//! with [`free_port`], and keeps all of its files in a fresh [`TempDir`] that is removed when the
//! handle is dropped. The binaries come from the Debian packages `redis-server`, `mariadb-server`
//! and `mariadb-client` (`scripts/setup.sh test` installs them); they are looked up in `PATH` and
//! then in `/usr/sbin`, `/usr/bin`, `/sbin`, `/bin` (Debian puts `mariadbd` in `/usr/sbin`).
//!
//! # Cleanup when the test process dies
//!
//! `Drop` kills a server, but a test process can also end without dropping anything: a panic
//! while a server sits in a `static` ([`shared_mariadb`]; statics are never dropped), a
//! `process::exit`, or nextest's timeout killing the test. Putting the server in its own process
//! group would not help with any of these, so every server gets a tiny **watchdog**: a detached
//! `sh` loop, in its own process group (so signals that nextest or a terminal send to the test's
//! group do not reach it), that polls `kill -0 <test pid>` every 0.5 s and, once the test process
//! is gone, sends `SIGKILL` to the server (which also works on a server stopped by
//! [`MariaDb::pause`]) and removes the server's temporary directory. The watchdog is killed as soon
//! as the handle reaps the server itself, so it can never signal a recycled pid. All standard
//! streams of servers and watchdogs are redirected (to log files or `/dev/null`), so nextest never
//! sees them as leaked handles.

// The test binary uses only some of these helpers at any given time.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long [`RedisServer`] waits for `+PONG`.
const REDIS_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long [`MariaDb`] waits for `SELECT 1` to succeed.
const MARIADB_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `stop()` waits for a graceful shutdown before it sends `SIGKILL`.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between two readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How often `start()` retries with a new port when the one picked was taken in the meantime.
const START_ATTEMPTS: usize = 3;

/// Returns a TCP port on 127.0.0.1 that was free a moment ago (the OS picks it by binding port 0).
///
/// Another process may take the port before the caller binds it; the servers in this module retry
/// with a new port when that happens.
///
/// # Panics
///
/// Panics when no loopback port can be bound at all.
pub fn free_port() -> u16 {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("cannot bind a free port on 127.0.0.1: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------------

/// A throwaway `redis-server` on 127.0.0.1 with append-only persistence (`appendfsync always`), no
/// RDB snapshots and the `noeviction` policy. Data lives in a temporary directory that survives
/// [`kill`](Self::kill) and [`restart`](Self::restart) and is deleted on drop.
///
/// All methods take `&self`, so a server can be shared between tasks (for example in an `Arc`).
pub struct RedisServer {
    port: u16,
    proc: Mutex<Option<Proc>>,
    dir: TempDir,
}

impl RedisServer {
    /// Starts a server on a free port and waits (up to 20 s) until it answers `PING` with `+PONG`.
    ///
    /// # Errors
    ///
    /// Fails when `redis-server` is not installed or does not become ready; the error carries the
    /// tail of the server's log.
    pub fn start() -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("chat-test-redis-")
            .tempdir()?;
        let mut last_err = io::Error::other("redis-server was not started");
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            match spawn_redis(port, dir.path()) {
                Ok(proc) => {
                    return Ok(Self {
                        port,
                        proc: Mutex::new(Some(proc)),
                        dir,
                    })
                }
                // The port was probably taken between `free_port` and the server's bind: retry.
                Err(e) if port_in_use(&log_tail(&dir.path().join("redis.log"))) => last_err = e,
                Err(e) => return Err(e),
            }
        }
        Err(last_err)
    }

    /// The port the server listens on (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connection URL, `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's working directory (append-only files, `redis.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the server process is currently alive (a paused server counts as alive).
    pub fn is_running(&self) -> bool {
        lock(&self.proc).as_mut().is_some_and(Proc::is_running)
    }

    /// Kills the server with `SIGKILL` (a crash: no shutdown, no final flush) and reaps it.
    /// Does nothing when it is not running.
    pub fn kill(&self) {
        drop(lock(&self.proc).take());
    }

    /// Shuts the server down gracefully (`SIGTERM`, which makes Redis flush its AOF), falling back
    /// to `SIGKILL` after 30 s. Does nothing when it is not running.
    pub fn stop(&self) {
        if let Some(proc) = lock(&self.proc).take() {
            proc.stop();
        }
    }

    /// Starts the server again on the same port and directory, so everything written to the
    /// append-only file before a [`kill`](Self::kill) or [`stop`](Self::stop) is loaded again.
    /// A server that is still running is stopped gracefully first. Waits until it answers `PING`.
    ///
    /// # Errors
    ///
    /// Fails when the server does not become ready (for example when the port was taken meanwhile).
    pub fn restart(&self) -> io::Result<()> {
        let mut guard = lock(&self.proc);
        if let Some(proc) = guard.take() {
            proc.stop();
        }
        *guard = Some(spawn_redis(self.port, self.dir.path())?);
        Ok(())
    }

    /// Freezes the server with `SIGSTOP`: connections stay open but nothing is answered, like a
    /// hung server. Undo with [`resume`](Self::resume).
    ///
    /// # Errors
    ///
    /// Fails when the server is not running or the signal cannot be sent.
    pub fn pause(&self) -> io::Result<()> {
        signal_running(&self.proc, "STOP")
    }

    /// Lets a server frozen by [`pause`](Self::pause) continue (`SIGCONT`).
    ///
    /// # Errors
    ///
    /// Fails when the server is not running or the signal cannot be sent.
    pub fn resume(&self) -> io::Result<()> {
        signal_running(&self.proc, "CONT")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Kill the server before the `TempDir` field deletes its files.
        self.kill();
    }
}

/// Spawns `redis-server` in `dir` on `port` and waits until it answers `PING`.
fn spawn_redis(port: u16, dir: &Path) -> io::Result<Proc> {
    let bin = find_binary("redis-server")?;
    let log_path = dir.join("redis.log");
    let log = open_log(&log_path)?;
    let mut cmd = Command::new(bin);
    cmd.arg("--port")
        .arg(port.to_string())
        .args(["--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(["--appendonly", "yes"])
        .args(["--appendfsync", "always"])
        .args(["--save", ""])
        .args(["--maxmemory-policy", "noeviction"])
        .args(["--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut proc = Proc::spawn(&mut cmd, dir)?;

    let deadline = Instant::now() + REDIS_READY_TIMEOUT;
    loop {
        // Also check that it is *our* server answering: if the port was taken by another server
        // between `free_port` and our bind, ours is about to exit and the other one answers.
        if redis_ping(port) && redis_pid(port) == Some(proc.child.id()) {
            return Ok(proc);
        }
        if !proc.is_running() {
            return Err(io::Error::other(format!(
                "redis-server exited before it was ready; {}:\n{}",
                log_path.display(),
                log_tail(&log_path)
            )));
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "redis-server on port {port} not ready after {REDIS_READY_TIMEOUT:?}; {}:\n{}",
                    log_path.display(),
                    log_tail(&log_path)
                ),
            ));
        }
        sleep(POLL_INTERVAL);
    }
}

/// Sends a raw RESP `PING` and reports whether the answer is `+PONG` (a loading server answers
/// `-LOADING`, which counts as not ready).
fn redis_ping(port: u16) -> bool {
    redis_inline(port, b"PING\r\n", |reply| reply.contains(&b'\n'))
        .is_some_and(|reply| reply.starts_with(b"+PONG"))
}

/// The `process_id` reported by `INFO server` on `port`.
fn redis_pid(port: u16) -> Option<u32> {
    let reply = redis_inline(port, b"INFO server\r\n", |reply| {
        String::from_utf8_lossy(reply)
            .split_once("process_id:")
            .is_some_and(|(_, rest)| rest.contains('\n'))
    })?;
    String::from_utf8_lossy(&reply)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
}

/// Sends an inline command and reads the reply until `complete` says it has enough (or 4 KiB, a
/// timeout or EOF). `None` when the server cannot be reached.
fn redis_inline(port: u16, command: &[u8], complete: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    let timeout = Some(Duration::from_secs(1));
    stream.set_read_timeout(timeout).ok()?;
    stream.set_write_timeout(timeout).ok()?;
    stream.write_all(command).ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    // The reply may arrive in pieces.
    while reply.len() < 4096 && !complete(&reply) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    Some(reply)
}

// ---------------------------------------------------------------------------------------------
// MariaDB
// ---------------------------------------------------------------------------------------------

/// Counter making the names from [`MariaDb::fresh_database`] unique within the process.
static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A throwaway MariaDB server (`mariadbd`) on 127.0.0.1, created with `mariadb-install-db` in a
/// temporary directory and tuned to start fast and stay small (64 MiB buffer pool, no binary log,
/// relaxed flushing that still survives a process crash).
///
/// It has a user `chat` with password `chat` and all privileges, for TCP clients such as the
/// server under test; `root` (no password) is used by the helpers over the Unix socket. Files:
/// `data/` (datadir), `tmp/` (tmpdir), `mysqld.sock`, `pid`, `err.log` (the server's stderr) in
/// [`dir`](Self::dir).
///
/// Starting one takes about a second, so tests that do not crash or pause the server can share one
/// per process with [`shared_mariadb`] and isolate themselves with [`fresh_database`](Self::fresh_database).
/// All methods take `&self`.
pub struct MariaDb {
    port: u16,
    socket: PathBuf,
    proc: Mutex<Option<Proc>>,
    dir: TempDir,
}

impl MariaDb {
    /// Initialises a data directory, starts `mariadbd` on a free port, waits (up to 60 s) until
    /// `SELECT 1` succeeds over the socket and creates the `chat` user.
    ///
    /// # Errors
    ///
    /// Fails when the MariaDB binaries are missing or the server does not come up; the error
    /// carries the tail of `err.log`.
    pub fn start() -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("chat-test-mariadb-")
            .tempdir()?;
        let socket = dir.path().join("mysqld.sock");
        // Unix socket paths are limited to 107 bytes (sun_path); fail clearly instead of obscurely.
        if socket.as_os_str().len() > 100 {
            return Err(io::Error::other(format!(
                "socket path {} is too long for a Unix socket; set TMPDIR to a shorter directory",
                socket.display()
            )));
        }
        // A private tmpdir: at start-up mariadbd deletes every `#sql*` file in its tmpdir, which
        // breaks any other MariaDB (or mariadb-install-db) using the same directory at that moment.
        std::fs::create_dir(dir.path().join("tmp"))?;
        install_db(dir.path())?;

        let mut started = None;
        let mut last_err = io::Error::other("mariadbd was not started");
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            match spawn_mariadbd(port, dir.path(), &socket) {
                Ok(proc) => {
                    started = Some((port, proc));
                    break;
                }
                // The port was probably taken between `free_port` and the server's bind: retry.
                Err(e) if port_in_use(&log_tail(&dir.path().join("err.log"))) => last_err = e,
                Err(e) => return Err(e),
            }
        }
        let Some((port, proc)) = started else {
            return Err(last_err);
        };
        let db = Self {
            port,
            socket,
            proc: Mutex::new(Some(proc)),
            dir,
        };
        // With --skip-name-resolve, 'chat'@'%' matches every TCP client (there are no anonymous
        // users that could shadow it), and the helpers use root over the socket.
        db.sql(
            "",
            "CREATE USER 'chat'@'%' IDENTIFIED BY 'chat'; GRANT ALL ON *.* TO 'chat'@'%';",
        )?;
        Ok(db)
    }

    /// The TCP port the server listens on (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's Unix socket (root can log in there without a password).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The directory holding `data/`, `tmp/`, the socket, the pid file and `err.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URL of database `name` for the `chat` user over TCP:
    /// `mysql://chat:chat@127.0.0.1:<port>/<name>`. Does not create anything.
    pub fn url(&self, name: &str) -> String {
        format!("mysql://chat:chat@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` (`utf8mb4`, `utf8mb4_unicode_ci`) and returns its URL (see
    /// [`url`](Self::url)).
    ///
    /// # Errors
    ///
    /// Fails when `name` is not made of ASCII letters, digits and underscores, when the database
    /// exists already, or when the server is not reachable.
    pub fn create_database(&self, name: &str) -> io::Result<String> {
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid database name {name:?}"),
            ));
        }
        self.sql(
            "",
            &format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
        )?;
        Ok(self.url(name))
    }

    /// Creates a database with a name unique to this call (`t_<counter>_<pid>`) and returns its URL.
    ///
    /// # Errors
    ///
    /// Fails when the server is not reachable.
    pub fn fresh_database(&self) -> io::Result<String> {
        let n = DB_COUNTER.fetch_add(1, Ordering::Relaxed);
        self.create_database(&format!("t_{n}_{}", std::process::id()))
    }

    /// Runs `query` (one or more `;`-separated statements) as root in database `db` (`""` for
    /// none) with the `mariadb` command-line client and returns its standard output.
    ///
    /// The output is in `--batch --skip-column-names` form: one line per row, columns separated by
    /// tabs, `NULL` for SQL NULL, and tab, newline, backslash and NUL inside values escaped as
    /// `\t`, `\n`, `\\`, `\0`. The connection uses `utf8mb4`, so any Unicode text round-trips.
    /// Trim the result before comparing single values.
    ///
    /// # Errors
    ///
    /// Fails with the client's stderr when the query fails or the server is unreachable (for
    /// example while it is paused: the client gives up after 10 s).
    pub fn sql(&self, db: &str, query: &str) -> io::Result<String> {
        let mut cmd = self.client();
        cmd.args(["--batch", "--skip-column-names"]);
        if !db.is_empty() {
            cmd.arg(format!("--database={db}"));
        }
        cmd.arg("-e").arg(query);
        let out = cmd.stdin(Stdio::null()).output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "mariadb client failed ({}) running {query:?} in {db:?}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        String::from_utf8(out.stdout).map_err(io::Error::other)
    }

    /// Whether the server process is currently alive (a paused server counts as alive).
    pub fn is_running(&self) -> bool {
        lock(&self.proc).as_mut().is_some_and(Proc::is_running)
    }

    /// Freezes the server with `SIGSTOP`: the port still accepts connections but nothing is
    /// answered, like a hung database. Undo with [`resume`](Self::resume). Do not pause the
    /// [`shared_mariadb`] instance: other tests in the process use it.
    ///
    /// # Errors
    ///
    /// Fails when the server is not running or the signal cannot be sent.
    pub fn pause(&self) -> io::Result<()> {
        signal_running(&self.proc, "STOP")
    }

    /// Lets a server frozen by [`pause`](Self::pause) continue (`SIGCONT`).
    ///
    /// # Errors
    ///
    /// Fails when the server is not running or the signal cannot be sent.
    pub fn resume(&self) -> io::Result<()> {
        signal_running(&self.proc, "CONT")
    }

    /// Kills the server with `SIGKILL` (a crash; committed transactions survive, see
    /// [`restart`](Self::restart)) and reaps it. Does nothing when it is not running.
    pub fn kill(&self) {
        drop(lock(&self.proc).take());
    }

    /// Shuts the server down gracefully (`SIGTERM`), falling back to `SIGKILL` after 30 s.
    /// Does nothing when it is not running.
    pub fn stop(&self) {
        if let Some(proc) = lock(&self.proc).take() {
            proc.stop();
        }
    }

    /// Starts the server again on the same port, socket and data directory (after a
    /// [`kill`](Self::kill), InnoDB recovers every committed transaction) and waits until it
    /// answers. A server that is still running is stopped gracefully first.
    ///
    /// # Errors
    ///
    /// Fails when the server does not come up again; the error carries the tail of `err.log`.
    pub fn restart(&self) -> io::Result<()> {
        let mut guard = lock(&self.proc);
        if let Some(proc) = guard.take() {
            proc.stop();
        }
        *guard = Some(spawn_mariadbd(self.port, self.dir.path(), &self.socket)?);
        Ok(())
    }

    /// A `mariadb` client command logged in as root over the socket, using utf8mb4.
    fn client(&self) -> Command {
        let bin = find_binary("mariadb").unwrap_or_else(|_| PathBuf::from("mariadb"));
        let mut cmd = Command::new(bin);
        cmd.arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--socket={}", self.socket.display()))
            .arg("--default-character-set=utf8mb4")
            .arg("--connect-timeout=10");
        cmd
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        // Kill the server before the `TempDir` field deletes its files.
        self.kill();
    }
}

/// Returns a MariaDB server shared by every test of the current process, started on first use.
///
/// Under nextest every test runs in its own process, so this is in practice one server per test
/// that asks for it (still saving the repeated start-up when a test needs several databases);
/// under `cargo test` all tests of the binary share it. Use [`MariaDb::fresh_database`] to keep
/// tests apart, and start a private [`MariaDb`] for tests that kill, pause or restart the server.
/// The instance is never dropped: its watchdog kills it and deletes its files after the process
/// exits (see the module documentation).
///
/// # Panics
///
/// Panics when the server cannot be started (the message says why).
pub fn shared_mariadb() -> &'static MariaDb {
    static SHARED: OnceLock<MariaDb> = OnceLock::new();
    SHARED.get_or_init(|| match MariaDb::start() {
        Ok(db) => db,
        Err(e) => panic!("cannot start the shared MariaDB server: {e}"),
    })
}

/// Creates the system tables in `dir/data` with `mariadb-install-db`.
fn install_db(dir: &Path) -> io::Result<()> {
    let bin = find_binary("mariadb-install-db")?;
    let mut cmd = Command::new(bin);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .args(user_arg())
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg("--skip-name-resolve")
        .arg(format!("--tmpdir={}", dir.join("tmp").display()))
        // Passed through to the bootstrap server: create the files as small as the real server's.
        .arg("--innodb-buffer-pool-size=64M")
        .arg("--innodb-log-file-size=16M")
        .stdin(Stdio::null());
    let out = cmd.output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "mariadb-install-db failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// Spawns `mariadbd` on `port` with its files in `dir` and waits until `SELECT 1` succeeds.
fn spawn_mariadbd(port: u16, dir: &Path, socket: &Path) -> io::Result<Proc> {
    let bin = find_binary("mariadbd")?;
    let log_path = dir.join("err.log");
    let log = open_log(&log_path)?;
    let mut cmd = Command::new(bin);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .args(user_arg())
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .arg(format!("--tmpdir={}", dir.join("tmp").display()))
        .arg("--skip-name-resolve")
        .arg("--character-set-server=utf8mb4")
        .arg("--collation-server=utf8mb4_unicode_ci")
        .arg("--skip-log-bin")
        .arg("--performance-schema=OFF")
        .arg("--max-connections=500")
        .arg("--max-allowed-packet=64M")
        // Small and fast: a 64 MiB buffer pool and a 16 MiB redo log, no buffer pool dump/load.
        .arg("--innodb-buffer-pool-size=64M")
        .arg("--innodb-log-file-size=16M")
        .arg("--innodb-buffer-pool-load-at-startup=OFF")
        .arg("--innodb-buffer-pool-dump-at-shutdown=OFF")
        // Write the redo log at every commit but fsync it only once a second, and skip the
        // doublewrite buffer: that only risks data on an OS crash, never on a killed server.
        .arg("--innodb-flush-log-at-trx-commit=2")
        .arg("--innodb-doublewrite=OFF")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    let mut proc = Proc::spawn(&mut cmd, dir)?;

    let deadline = Instant::now() + MARIADB_READY_TIMEOUT;
    loop {
        let ready = Command::new(find_binary("mariadb")?)
            .arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--socket={}", socket.display()))
            .arg("--connect-timeout=2")
            .args(["-e", "SELECT 1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Ok(proc);
        }
        if !proc.is_running() {
            return Err(io::Error::other(format!(
                "mariadbd exited before it was ready; {}:\n{}",
                log_path.display(),
                log_tail(&log_path)
            )));
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "mariadbd on port {port} not ready after {MARIADB_READY_TIMEOUT:?}; {}:\n{}",
                    log_path.display(),
                    log_tail(&log_path)
                ),
            ));
        }
        sleep(POLL_INTERVAL);
    }
}

/// `--user=root` when running as root (mariadbd refuses to run as root without it), nothing
/// otherwise (the server then runs as the current user).
fn user_arg() -> Option<&'static str> {
    running_as_root().then_some("--user=root")
}

/// Whether the effective user id is 0, read from `/proc/self/status` (no libc needed).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A server process plus its watchdog. Dropping it kills and reaps both.
struct Proc {
    child: Child,
    /// `None` once the watchdog has been killed (because the server was reaped).
    watchdog: Option<Child>,
}

impl Proc {
    /// Spawns `cmd` and a watchdog that kills it and removes `dir` once this process is gone.
    fn spawn(cmd: &mut Command, dir: &Path) -> io::Result<Self> {
        let child = cmd.spawn()?;
        let mut proc = Self {
            child,
            watchdog: None,
        };
        // On error `proc` is dropped, which kills the server.
        proc.watchdog = Some(spawn_watchdog(proc.child.id(), dir)?);
        Ok(proc)
    }

    /// Whether the server is still alive; reaps it and retires the watchdog when it is not.
    fn is_running(&mut self) -> bool {
        if let Ok(None) = self.child.try_wait() {
            return true;
        }
        self.kill_watchdog();
        false
    }

    /// Sends `signal` (a name such as `STOP`) to the server, which must still be running.
    fn signal(&mut self, signal: &str) -> io::Result<()> {
        if !self.is_running() {
            return Err(io::Error::other("the server is not running"));
        }
        // While the child is not reaped its pid cannot be reused, so this reaches the server.
        send_signal(self.child.id(), signal)
    }

    /// `SIGCONT` (in case it is paused), `SIGTERM`, then waits up to 30 s before dropping
    /// (which sends `SIGKILL`).
    fn stop(mut self) {
        if self.is_running() {
            let pid = self.child.id();
            let _ = send_signal(pid, "CONT");
            let _ = send_signal(pid, "TERM");
            let deadline = Instant::now() + STOP_TIMEOUT;
            while self.is_running() && Instant::now() < deadline {
                sleep(POLL_INTERVAL);
            }
        }
    }

    fn kill_watchdog(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // The watchdog goes first so that it never outlives the server's pid.
        self.kill_watchdog();
        // `kill` is a no-op for a child that was already reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns the watchdog described in the module documentation: a detached `sh` loop, in its own
/// process group and with null standard streams, that `SIGKILL`s `target` and removes `dir` once
/// the current process has exited.
fn spawn_watchdog(target: u32, dir: &Path) -> io::Result<Child> {
    let parent = std::process::id();
    // The directory is passed as a positional parameter, so no quoting is needed. After the kill
    // wait (bounded: an unreaped zombie still answers kill -0) until the server is gone, so it
    // does not write into the directory while it is being removed.
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; \
         kill -9 {target} 2>/dev/null; \
         i=0; while kill -0 {target} 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done; \
         rm -rf \"$1\""
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("watchdog")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

/// Sends `signal` (a name such as `STOP`) to `pid` with the shell's `kill` builtin (no libc).
fn send_signal(pid: u32, signal: &str) -> io::Result<()> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{signal} {pid}"))
        .stdin(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "kill -{signal} {pid} failed ({status})"
        )))
    }
}

/// Sends `signal` to the process in `proc`, failing when there is none or it has exited.
fn signal_running(proc: &Mutex<Option<Proc>>, signal: &str) -> io::Result<()> {
    match lock(proc).as_mut() {
        Some(proc) => proc.signal(signal),
        None => Err(io::Error::other("the server is not running")),
    }
}

/// Locks `m`, ignoring poisoning (a panicking test must not keep the server from being killed).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Finds an executable named `name` in `PATH`, then in the usual system directories.
fn find_binary(name: &str) -> io::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("`{name}` not found in PATH or /usr/sbin, /usr/bin; run `scripts/setup.sh test`"),
            )
        })
}

/// Opens (appending) the log file a server writes to.
fn open_log(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The last 40 lines of a log file, or a note that it cannot be read.
fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Whether a server log says its port was taken.
fn port_in_use(log: &str) -> bool {
    log.contains("Address already in use")
        || log.contains("Can't start server: Bind on TCP/IP port")
}
