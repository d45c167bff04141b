//! `chat-cli` (its own crate, built on `chat-protocol` alone) against a running server: an
//! account, a dm, a message acked and delivered, history with usernames, and a refusal.

use std::path::PathBuf;
use std::process::Output;

use tokio::process::Command;

use crate::support::app::spawn_app;

/// `target/<profile>/chat-cli`, next to this test binary's `deps/` directory. It is another
/// package's binary, which cargo builds for its own tests only: `make test` builds it first
/// (`cargo build -p chat-cli`).
fn cli_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = dir.join("chat-cli");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace (cargo build -p chat-cli)",
        bin.display()
    );
    bin
}

/// Runs chat-cli against `server` with `args`; stdin closed.
async fn cli(server: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(cli_binary());
    cmd.env("CHAT_SERVER", server)
        .env_remove("CHAT_TOKEN")
        .env_remove("CHAT_PASSWORD")
        .args(args)
        .stdin(std::process::Stdio::null());
    if let Some(token) = token {
        cmd.env("CHAT_TOKEN", token);
    }
    cmd.output().await.unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "chat-cli failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[actix_web::test]
async fn chat_cli_registers_opens_a_dm_sends_and_reads_history() {
    let app = spawn_app().await;
    let bob = app.register("bob").await;
    let alice = format!("alice{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);

    let out = cli(
        &app.http,
        None,
        &["register", &alice, "--password", "correct horse battery"],
    )
    .await;
    let token = stdout(&out).trim().to_owned();
    assert!(token.len() > 20, "token {token:?}");

    let room = stdout(&cli(&app.http, Some(&token), &["dm", &bob.username]).await);
    let room = room.trim();
    let rooms: serde_json::Value = bob.get("/api/rooms").await.json().await.unwrap();
    let listed = rooms["rooms"].as_array().unwrap();
    assert!(
        listed.iter().any(|r| r["id"] == room && r["kind"] == "dm"),
        "bob does not see the dm {room}: {rooms}"
    );

    let listed = stdout(&cli(&app.http, Some(&token), &["rooms"]).await);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&format!("{room}\tdm\t"))
                && l.ends_with("\tlast_seq=0\tunread=0")),
        "{listed:?}"
    );

    let mut bob_ws = bob.connect().await;
    let sent = stdout(&cli(&app.http, Some(&token), &["send", room, "hello", "there"]).await);
    assert!(sent.starts_with("seq=1 id="), "{sent:?}");
    let got = bob_ws.expect("message").await;
    assert_eq!(got["body"], "hello there");
    assert_eq!(got["room"], room);

    bob_ws.send_msg(room, "hi\nalice").await;
    let history = stdout(&cli(&app.http, Some(&token), &["history", room]).await);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(
        lines,
        [
            format!("[1] {alice}: hello there"),
            format!("[2] {}: hi\\nalice", bob.username)
        ],
        "history shows usernames, oldest first, one line per message"
    );
}

#[actix_web::test]
async fn chat_cli_reports_the_servers_refusal_and_fails() {
    let app = spawn_app().await;
    let [carol, dave, erin] = app.register_many(["carol", "dave", "erin"]).await;
    let room = dave.dm(&erin).await;
    let out = cli(&app.http, Some(&carol.token), &["send", &room, "let me in"]).await;
    assert!(
        !out.status.success(),
        "sending to someone else's dm succeeded"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not_member"), "stderr: {err}");

    let out = cli(&app.http, Some("not-a-token"), &["rooms"]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
