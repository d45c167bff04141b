//! The real server binary killed with SIGKILL mid-load and restarted on the same database: every
//! acked message is still there, once, with seqs gap-free.

use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::app::TestUser;
use crate::support::services::free_port;

/// The server binary as a child process.
pub struct ServerProcess {
    pub child: Child,
    pub http: String,
}

impl ServerProcess {
    /// Starts the binary in `dir` (no config file there: defaults plus these variables) and waits
    /// until `/healthz` answers.
    pub async fn start(
        dir: &std::path::Path,
        database_url: &str,
        port: u16,
        env: &[(&str, String)],
    ) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat-server"));
        cmd.current_dir(dir)
            .env("CHAT__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("CHAT__DATABASE__URL", database_url)
            .env("CHAT__REDIS__URL", "")
            .env("CHAT__MEDIA__DIR", dir.join("media"))
            // Tests run on a busy machine, where idle-policy media workers would wait their turn.
            .env("CHAT__MEDIA__WORKER_SCHED_IDLE", "false")
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let http = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Some(status) = child.try_wait().unwrap() {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                panic!("server exited with {status}: {log}");
            }
            if let Ok(r) = client.get(format!("{http}/healthz")).send().await {
                if r.status() == 200 {
                    return Self { child, http };
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server did not become healthy");
    }

    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM (a graceful shutdown).
    pub fn sigterm(&self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    }

    /// Waits for the process to exit, at most `within`, and returns its status; a process still
    /// running then is killed and the test fails.
    pub async fn exited(mut self, within: Duration) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_child(&self.child);
        let waiting = tokio::task::spawn_blocking(move || self.child.wait().unwrap());
        match tokio::time::timeout(within, waiting).await {
            Ok(status) => status.unwrap(),
            Err(_) => {
                // Ends the blocking wait (and the process) before failing.
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                panic!("the server did not exit within {within:?}");
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers a user against a server process.
pub async fn register(http: &str, port: u16, name: &str) -> TestUser {
    let client = reqwest::Client::new();
    let username = format!("{name}{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let r = client
        .post(format!("{http}/api/auth/register"))
        .json(&json!({"username": username, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    TestUser {
        id: body["user"]["id"].as_str().unwrap().into(),
        username,
        token: body["token"].as_str().unwrap().into(),
        http: http.into(),
        ws: format!("ws://127.0.0.1:{port}/ws"),
        client,
    }
}

/// Every message of a room through the HTTP history API, oldest first.
pub async fn all_messages(user: &TestUser, room: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let q = before.map(|b| format!("&before={b}")).unwrap_or_default();
        let r = user
            .get(&format!("/api/rooms/{room}/messages?limit=100{q}"))
            .await;
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        let msgs = page["messages"].as_array().unwrap().clone();
        before = msgs.first().and_then(|m| m["seq"].as_i64());
        let more = page["has_more"].as_bool().unwrap();
        out.splice(0..0, msgs);
        if !more {
            return out;
        }
    }
}

#[actix_web::test]
async fn kill9_mid_load_keeps_every_acked_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/chat.db?mode=rwc", dir.path().display());
    let port = free_port();
    // This test floods on purpose; the rate limiter has its own test.
    let env = [
        ("CHAT__WS__RATE_PER_SEC", "100000".to_string()),
        ("CHAT__WS__RATE_BURST", "100000".to_string()),
    ];
    let mut server = ServerProcess::start(dir.path(), &db, port, &env).await;
    let a = register(&server.http, port, "alice").await;
    let b = register(&server.http, port, "bob").await;
    let room = a.dm(&b).await;

    // Fire 400 sends without waiting, collect acks, and kill the server after 100 of them.
    let mut ws = a.connect().await;
    for i in 0..400 {
        ws.send(json!({"type": "send", "room": room, "client_id": format!("c{i}"), "body": format!("message {i}")})).await;
    }
    let mut acked: HashMap<String, (String, i64)> = HashMap::new();
    while acked.len() < 100 {
        let f = ws
            .recv(Duration::from_secs(10))
            .await
            .expect("server stopped answering");
        if f["type"] == "ack" {
            acked.insert(
                f["client_id"].as_str().unwrap().into(),
                (f["id"].as_str().unwrap().into(), f["seq"].as_i64().unwrap()),
            );
        }
    }
    server.kill9();
    // Acks that were already on the wire when the process died count too.
    while let Some(f) = ws.recv(Duration::from_millis(500)).await {
        if f["type"] == "ack" {
            acked.insert(
                f["client_id"].as_str().unwrap().into(),
                (f["id"].as_str().unwrap().into(), f["seq"].as_i64().unwrap()),
            );
        }
    }

    let _server = ServerProcess::start(dir.path(), &db, port, &env).await;
    let stored = all_messages(&a, &room).await;
    let seqs: Vec<i64> = stored.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=stored.len() as i64).collect::<Vec<_>>(),
        "seqs must be 1..n without gaps"
    );
    let by_cid: HashMap<&str, (&str, i64)> = stored
        .iter()
        .map(|m| {
            (
                m["client_id"].as_str().unwrap(),
                (m["id"].as_str().unwrap(), m["seq"].as_i64().unwrap()),
            )
        })
        .collect();
    assert_eq!(by_cid.len(), stored.len(), "no client_id stored twice");
    for (cid, (id, seq)) in &acked {
        assert_eq!(
            by_cid.get(cid.as_str()),
            Some(&(id.as_str(), *seq)),
            "acked {cid} missing or changed"
        );
    }

    // Resending everything after the restart stores nothing twice and fills in the rest.
    let mut ws = a.connect().await;
    for i in 0..400 {
        let cid = format!("c{i}");
        let ack = ws.send_with_id(&room, &format!("message {i}"), &cid).await;
        if let Some((id, seq)) = acked.get(&cid) {
            assert_eq!(
                (ack["id"].as_str().unwrap(), ack["seq"].as_i64().unwrap()),
                (id.as_str(), *seq)
            );
        }
    }
    let stored = all_messages(&a, &room).await;
    assert_eq!(stored.len(), 400);
    assert_eq!(
        stored
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        (1..=400).collect::<Vec<_>>()
    );
}
