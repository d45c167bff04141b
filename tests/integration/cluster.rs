//! Three server processes (the real binary) on loopback ports sharing one `redis-server` and one
//! MariaDB database, in cluster mode: people on different nodes chat with the same protocol,
//! ordering and acks as on one node; seqs stay gap-free with senders on every node; a `client_id`
//! resent through another node yields one message; presence spans nodes and a node killed with
//! SIGKILL is noticed; after kill -9 under load, clients reconnect elsewhere, `sync` returns
//! exactly what they missed and MariaDB holds every acked message once.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;

use crate::restart::{all_messages, register, ServerProcess};
use crate::support::app::{TestUser, WsClient};
use crate::support::services::{free_port, shared_mariadb, RedisServer};
use crate::support::wait::eventually;

/// How long a node's presence key lives without a heartbeat in these tests.
const NODE_TTL_MS: u64 = 1000;

/// Three nodes on one Redis and one MariaDB database.
struct Nodes {
    redis: RedisServer,
    db: String,
    /// Shared by the nodes, like `media.dir` on a shared volume.
    dir: TempDir,
    nodes: Vec<Option<ServerProcess>>,
    ports: Vec<u16>,
}

impl Nodes {
    async fn start() -> Nodes {
        let redis = RedisServer::start().unwrap();
        let url = shared_mariadb().fresh_database().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let env = |i: usize| {
            vec![
                ("CHAT__REDIS__URL", redis.url()),
                ("CHAT__CLUSTER__ENABLED", "true".to_string()),
                ("CHAT__CLUSTER__NODE_ID", format!("node{i}")),
                ("CHAT__CLUSTER__HEARTBEAT_MS", "200".to_string()),
                ("CHAT__CLUSTER__NODE_TTL_MS", NODE_TTL_MS.to_string()),
                ("CHAT__REDIS__CLAIM_IDLE_MS", "1000".to_string()),
                ("CHAT__REDIS__SYNC_INTERVAL_MS", "50".to_string()),
                (
                    "CHAT__MEDIA__URL_SECRET",
                    "one secret for every node".to_string(),
                ),
                ("CHAT__MEDIA__WORKERS", "1".to_string()),
                // On a test machine kept busy, an idle-policy worker would wait its turn.
                ("CHAT__MEDIA__WORKER_SCHED_IDLE", "false".to_string()),
                ("CHAT__SERVER__WORKERS", "1".to_string()),
                ("CHAT__SERVER__ROOM_THREADS", "1".to_string()),
                ("CHAT__WS__RATE_PER_SEC", "100000".to_string()),
                ("CHAT__WS__RATE_BURST", "100000".to_string()),
            ]
        };
        // The first node applies the migrations; the others start once it is up.
        let first = ServerProcess::start(dir.path(), &url, ports[0], &env(0)).await;
        let (e1, e2) = (env(1), env(2));
        let (second, third) = tokio::join!(
            ServerProcess::start(dir.path(), &url, ports[1], &e1),
            ServerProcess::start(dir.path(), &url, ports[2], &e2)
        );
        let db = url.rsplit('/').next().unwrap().to_owned();
        Nodes {
            redis,
            db,
            dir,
            nodes: vec![Some(first), Some(second), Some(third)],
            ports,
        }
    }

    fn http(&self, node: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[node])
    }

    async fn register(&self, node: usize, name: &str) -> TestUser {
        register(&self.http(node), self.ports[node], name).await
    }

    /// `user` talking to another node (same token: a load balancer sent them elsewhere).
    fn via(&self, user: &TestUser, node: usize) -> TestUser {
        TestUser {
            http: self.http(node),
            ws: format!("ws://127.0.0.1:{}/ws", self.ports[node]),
            ..user.clone()
        }
    }

    fn kill9(&mut self, node: usize) {
        self.nodes[node].take().unwrap().kill9();
    }

    fn sql(&self, query: &str) -> String {
        shared_mariadb().sql(&self.db, query).unwrap()
    }

    /// Whether every buffered write reached MariaDB (the write stream is empty).
    fn stream_empty(&self) -> bool {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &self.redis.port().to_string(), "XLEN", "chat:writes"])
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        // Servers first, then Redis and the shared directory.
        self.nodes.clear();
        let _ = &self.dir;
    }
}

/// Sends `n` messages without waiting, client ids `{tag}{i}`.
async fn fire(ws: &mut WsClient, room: &str, tag: &str, n: usize) {
    for i in 0..n {
        ws.send(json!({"type": "send", "room": room, "client_id": format!("{tag}{i}"), "body": format!("{tag} {i}")})).await;
    }
}

/// Reads frames until `acks` acks arrived; returns client id → (id, seq) and the seqs of the
/// `message` frames seen meanwhile, in arrival order.
async fn collect(
    ws: &mut WsClient,
    acks: usize,
    messages: usize,
) -> (HashMap<String, (String, i64)>, Vec<i64>) {
    let mut acked = HashMap::new();
    let mut seen = Vec::new();
    while acked.len() < acks || seen.len() < messages {
        let f = ws
            .recv(Duration::from_secs(15))
            .await
            .unwrap_or_else(|| panic!("stalled at {} acks, {} messages", acked.len(), seen.len()));
        match f["type"].as_str() {
            Some("ack") => {
                acked.insert(
                    f["client_id"].as_str().unwrap().to_owned(),
                    (
                        f["id"].as_str().unwrap().to_owned(),
                        f["seq"].as_i64().unwrap(),
                    ),
                );
            }
            Some("message") => seen.push(f["seq"].as_i64().unwrap()),
            Some("error") => panic!("error frame: {f}"),
            _ => {}
        }
    }
    (acked, seen)
}

fn rows(nodes: &Nodes, room: &str) -> Vec<(String, String, i64)> {
    nodes
        .sql(&format!(
            "SELECT client_id, id, seq FROM messages WHERE room_id = '{room}' ORDER BY seq"
        ))
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_owned(), c[1].to_owned(), c[2].parse().unwrap())
        })
        .collect()
}

#[actix_web::test]
async fn cluster_dm_and_group_span_three_nodes() {
    let nodes = Nodes::start().await;
    let ann = nodes.register(0, "ann").await;
    let ben = nodes.via(&nodes.register(1, "ben").await, 1);
    let cat = nodes.via(&nodes.register(2, "cat").await, 2);
    let (mut wa, mut wb, mut wc) = (
        ann.connect().await,
        ben.connect().await,
        cat.connect().await,
    );

    // A dm between node 0 and node 1, both ways.
    let dm = ann.dm(&ben).await;
    wb.expect_where("room_event", |f| {
        f["event"] == "created" && f["room"] == dm.as_str()
    })
    .await;
    let ack = wa.send_msg(&dm, "hello from node 0").await;
    let m = wb
        .expect_where("message", |f| f["room"] == dm.as_str())
        .await;
    assert_eq!(
        (m["seq"].clone(), m["body"].clone(), m["id"].clone()),
        (json!(1), json!("hello from node 0"), ack["id"].clone())
    );
    wb.send_msg(&dm, "hi from node 1").await;
    let m = wa
        .expect_where("message", |f| f["room"] == dm.as_str())
        .await;
    assert_eq!(
        (m["seq"].clone(), m["from"].clone()),
        (json!(2), json!(ben.id))
    );

    // A group across all three: creation, messages in the same order everywhere.
    let group = nodes.via(&ann, 1).group("three nodes", &[&ben, &cat]).await;
    wc.expect_where("room_event", |f| {
        f["event"] == "created" && f["room"] == group.as_str()
    })
    .await;
    wa.send_msg(&group, "a").await;
    wb.send_msg(&group, "b").await;
    wc.send_msg(&group, "c").await;
    for (ws, me) in [(&mut wa, &ann), (&mut wb, &ben), (&mut wc, &cat)] {
        let mut got = Vec::new();
        while got.len() < 2 {
            let m = ws
                .expect_where("message", |f| f["room"] == group.as_str())
                .await;
            assert_ne!(
                m["from"],
                me.id.as_str(),
                "a sender gets its ack, not its message"
            );
            got.push(m["seq"].as_i64().unwrap());
        }
        assert!(got[0] < got[1], "seq order: {got:?}");
    }

    // Typing, read receipts, edits, deletes and room events cross nodes too.
    wa.send(json!({"type": "typing", "room": group, "state": "start"}))
        .await;
    for ws in [&mut wb, &mut wc] {
        let t = ws
            .expect_where("typing", |f| f["room"] == group.as_str())
            .await;
        assert_eq!(
            (t["user"].clone(), t["state"].clone()),
            (json!(ann.id), json!("start"))
        );
    }
    wc.send(json!({"type": "read", "room": group, "seq": 3}))
        .await;
    let r = wa
        .expect_where("receipt", |f| {
            f["kind"] == "read" && f["user"] == cat.id.as_str()
        })
        .await;
    assert_eq!(r["seq"], 3);
    let first = all_messages(&ann, &group).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wa.send(json!({"type": "edit", "id": first, "body": "a, edited"}))
        .await;
    let e = wc
        .expect_where("edited", |f| f["id"] == first.as_str())
        .await;
    assert_eq!(e["body"], "a, edited");
    // A reaction through node 2 reaches nodes 0 and 1, and the history through any node has it.
    let second = all_messages(&ann, &group).await[1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wc.send(json!({"type": "react", "room": group, "id": second, "emoji": "👍", "on": true}))
        .await;
    for ws in [&mut wa, &mut wb] {
        let r = ws
            .expect_where("reaction", |f| f["id"] == second.as_str())
            .await;
        assert_eq!(
            (r["user"].clone(), r["on"].clone()),
            (json!(cat.id), json!(true))
        );
    }
    assert_eq!(
        all_messages(&nodes.via(&ben, 1), &group).await[1]["reactions"],
        json!({"👍": [cat.id]})
    );
    wa.send(json!({"type": "delete", "id": first})).await;
    wb.expect_where("deleted", |f| f["id"] == first.as_str())
        .await;
    let dan = nodes.via(&nodes.register(2, "dan").await, 2);
    let mut wd = dan.connect().await;
    let r = nodes
        .via(&ann, 2)
        .post(
            &format!("/api/rooms/{group}/members"),
            json!({"user": dan.id}),
        )
        .await;
    assert!(r.status().is_success(), "add member: {}", r.status());
    for ws in [&mut wa, &mut wb, &mut wd] {
        let ev = ws
            .expect_where("room_event", |f| {
                f["event"] == "member_added" && f["room"] == group.as_str()
            })
            .await;
        assert_eq!(ev["user"], dan.id.as_str());
    }
    // The new member, on another node than the one that added them, can send at once.
    let ack = wd.send_msg(&group, "d").await;
    assert_eq!(ack["seq"], 4);
    wa.expect_where("message", |f| f["seq"] == 4 && f["room"] == group.as_str())
        .await;
}

#[actix_web::test]
async fn cluster_seqs_stay_gap_free_with_senders_on_every_node() {
    let nodes = Nodes::start().await;
    let users = [
        nodes.register(0, "ann").await,
        nodes.via(&nodes.register(1, "ben").await, 1),
        nodes.via(&nodes.register(2, "cat").await, 2),
    ];
    let room = users[0].group("busy", &[&users[1], &users[2]]).await;
    let mut socks = Vec::new();
    for u in &users {
        socks.push(u.connect().await);
    }
    const N: usize = 100;
    for (i, ws) in socks.iter_mut().enumerate() {
        fire(ws, &room, &format!("n{i}-"), N).await;
    }
    let mut all: Vec<i64> = Vec::new();
    for ws in socks.iter_mut() {
        let (acked, seen) = collect(ws, N, 2 * N).await;
        // Each session sees the others' messages in increasing seq order.
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "out of order: {seen:?}"
        );
        all.extend(acked.values().map(|(_, s)| *s));
    }
    all.sort();
    assert_eq!(
        all,
        (1..=3 * N as i64).collect::<Vec<_>>(),
        "acked seqs are 1..n without gaps or repeats"
    );
    eventually(30, "stream drained", || nodes.stream_empty()).await;
    let stored: Vec<i64> = rows(&nodes, &room).into_iter().map(|r| r.2).collect();
    assert_eq!(stored, (1..=3 * N as i64).collect::<Vec<_>>());
}

#[actix_web::test]
async fn cluster_duplicate_client_id_through_two_nodes_is_one_message() {
    let nodes = Nodes::start().await;
    let ann = nodes.register(0, "ann").await;
    let cat = nodes.via(&nodes.register(2, "cat").await, 2);
    let room = ann.dm(&cat).await;
    let mut w0 = ann.connect().await;
    let mut w1 = nodes.via(&ann, 1).connect().await;
    let mut wc = cat.connect().await;

    // One after the other: the resend through node 1 gets the first ack.
    let first = w0.send_with_id(&room, "once", "dup-1").await;
    let again = w1.send_with_id(&room, "once", "dup-1").await;
    assert_eq!(
        (again["id"].clone(), again["seq"].clone()),
        (first["id"].clone(), first["seq"].clone())
    );
    // At the same time through both nodes: one message, the same ack on both.
    for ws in [&mut w0, &mut w1] {
        ws.send(json!({"type": "send", "room": room, "client_id": "dup-2", "body": "twice"}))
            .await;
    }
    let a0 = w0.expect_where("ack", |f| f["client_id"] == "dup-2").await;
    let a1 = w1.expect_where("ack", |f| f["client_id"] == "dup-2").await;
    assert_eq!(
        (a0["id"].clone(), a0["seq"].clone()),
        (a1["id"].clone(), a1["seq"].clone())
    );

    // The recipient got each message once, and the history holds each once.
    let m1 = wc
        .expect_where("message", |f| f["client_id"] == "dup-1")
        .await;
    let m2 = wc
        .expect_where("message", |f| f["client_id"] == "dup-2")
        .await;
    assert_eq!((m1["seq"].clone(), m2["seq"].clone()), (json!(1), json!(2)));
    wc.expect_none("message", Duration::from_millis(300), |_| true)
        .await;
    let history = all_messages(&cat, &room).await;
    assert_eq!(
        history
            .iter()
            .map(|m| m["client_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["dup-1", "dup-2"]
    );
    eventually(30, "stream drained", || nodes.stream_empty()).await;
    assert_eq!(rows(&nodes, &room).len(), 2);
}

#[actix_web::test]
async fn cluster_presence_spans_nodes_and_a_killed_node_goes_offline() {
    let mut nodes = Nodes::start().await;
    let ann = nodes.register(0, "ann").await;
    let ben = nodes.register(0, "ben").await;
    ann.dm(&ben).await;
    let mut wa = ann.connect().await;

    // Ben comes online on node 1: Ann, on node 0, hears of it.
    let wb1 = nodes.via(&ben, 1).connect().await;
    let p = wa
        .expect_where("presence", |f| f["user"] == ben.id.as_str())
        .await;
    assert_eq!(p["online"], true);
    // A new session on node 0 is told Ben is online, though he has no session there.
    let mut wa2 = ann.connect().await;
    wa2.expect_where("presence", |f| {
        f["user"] == ben.id.as_str() && f["online"] == true
    })
    .await;
    wa2.close().await;

    // Ben opens a second session on node 2 and closes the one on node 1: still online.
    let mut wb2 = nodes.via(&ben, 2).connect().await;
    wb2.ping("up").await;
    wb1.close().await;
    // (An extra "online" may come: Ann's sessions ask who is online right after hello, and that
    // answer can arrive after the announcement of Ben's first session.)
    wa.expect_none("presence", Duration::from_millis(500), |f| {
        f["user"] == ben.id.as_str() && f["online"] == false
    })
    .await;

    // Node 2 dies without cleaning up: within the node TTL plus a heartbeat Ben is offline.
    let t = std::time::Instant::now();
    nodes.kill9(2);
    let p = wa
        .expect_where("presence", |f| {
            f["user"] == ben.id.as_str() && f["online"] == false
        })
        .await;
    assert!(p["last_seen"].as_i64().is_some());
    assert!(
        t.elapsed() < Duration::from_millis(NODE_TTL_MS * 5),
        "offline after {:?}",
        t.elapsed()
    );
    drop(wb2);
}

#[actix_web::test]
async fn cluster_kill9_of_a_node_under_load_loses_nothing_acked() {
    let mut nodes = Nodes::start().await;
    let ann = nodes.register(0, "ann").await;
    let ben = nodes.via(&nodes.register(2, "ben").await, 2);
    let cat = nodes.via(&nodes.register(1, "cat").await, 1);
    let room = ann.group("load", &[&ben, &cat]).await;
    let mut wa = ann.connect().await;
    let mut wb = ben.connect().await;
    const N: usize = 300;
    fire(&mut wa, &room, "a", N).await;
    fire(&mut wb, &room, "b", N).await;

    // Ben (on node 2) keeps what he got until 60 of his sends are acked; then node 2 dies.
    let mut b_acked = HashMap::new();
    let mut b_seen: BTreeSet<i64> = BTreeSet::new();
    while b_acked.len() < 60 {
        let f = wb
            .recv(Duration::from_secs(15))
            .await
            .expect("node 2 stopped answering");
        match f["type"].as_str() {
            Some("ack") => {
                b_seen.insert(f["seq"].as_i64().unwrap());
                b_acked.insert(
                    f["client_id"].as_str().unwrap().to_owned(),
                    (
                        f["id"].as_str().unwrap().to_owned(),
                        f["seq"].as_i64().unwrap(),
                    ),
                );
            }
            Some("message") => {
                b_seen.insert(f["seq"].as_i64().unwrap());
            }
            _ => {}
        }
    }
    nodes.kill9(2);
    while let Some(f) = wb.recv(Duration::from_millis(300)).await {
        if f["type"] == "ack" {
            b_seen.insert(f["seq"].as_i64().unwrap());
            b_acked.insert(
                f["client_id"].as_str().unwrap().to_owned(),
                (
                    f["id"].as_str().unwrap().to_owned(),
                    f["seq"].as_i64().unwrap(),
                ),
            );
        } else if f["type"] == "message" {
            b_seen.insert(f["seq"].as_i64().unwrap());
        }
    }
    // Ann, on a live node, gets every ack.
    let (a_acked, _) = collect(&mut wa, N, 0).await;

    // Ben reconnects through node 1 and syncs from the last seq up to which he has everything.
    let mut cursor = 0;
    while b_seen.contains(&(cursor + 1)) {
        cursor += 1;
    }
    let mut wb = nodes.via(&ben, 1).connect().await;
    wb.send(json!({"type": "sync", "cursors": {room.clone(): cursor}}))
        .await;
    let (synced, _) = wb.until_synced().await;
    let got: Vec<i64> = synced.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        got,
        (cursor + 1..=cursor + got.len() as i64).collect::<Vec<_>>(),
        "sync returns the missed seqs in order, once"
    );
    // Together with what he had, that is everything stored.
    let stored = all_messages(&nodes.via(&ben, 1), &room).await;
    let have: BTreeSet<i64> = b_seen.iter().copied().chain(got.iter().copied()).collect();
    assert_eq!(
        have,
        stored
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect::<BTreeSet<_>>()
    );

    // His client resends what was never acked, through node 1: acked ones keep their ack.
    for i in 0..N {
        let cid = format!("b{i}");
        let ack = wb.send_with_id(&room, &format!("b {i}"), &cid).await;
        if let Some((id, seq)) = b_acked.get(&cid) {
            assert_eq!(
                (ack["id"].as_str().unwrap(), ack["seq"].as_i64().unwrap()),
                (id.as_str(), *seq),
                "{cid} acked twice differently"
            );
        }
    }

    // The dead node's unfinished stream entries are claimed: MariaDB ends with each message once.
    eventually(40, "stream drained", || nodes.stream_empty()).await;
    let rows = rows(&nodes, &room);
    assert_eq!(
        rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        (1..=2 * N as i64).collect::<Vec<_>>(),
        "gap-free, no repeats"
    );
    let by_cid: HashMap<&str, (&str, i64)> = rows
        .iter()
        .map(|(c, id, s)| (c.as_str(), (id.as_str(), *s)))
        .collect();
    assert_eq!(by_cid.len(), 2 * N, "each client id once");
    for (cid, (id, seq)) in a_acked.iter().chain(b_acked.iter()) {
        assert_eq!(
            by_cid.get(cid.as_str()),
            Some(&(id.as_str(), *seq)),
            "acked {cid} missing or changed in MariaDB"
        );
    }
    let _ = &cat;
}

#[actix_web::test]
async fn cluster_media_uploaded_through_one_node_is_sent_and_fetched_through_others() {
    let nodes = Nodes::start().await;
    let ann = nodes.register(0, "ann").await;
    let ben = nodes.via(&nodes.register(2, "ben").await, 2);
    let room = ann.dm(&ben).await;
    // Ann's socket is on node 1, her upload goes through node 0: the progress reaches her there.
    let mut wa = nodes.via(&ann, 1).connect().await;
    let mut wb = ben.connect().await;
    let data = b"minutes of the meeting, shared by every node".to_vec();
    let boundary = "----cluster-test-boundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes();
    body.extend_from_slice(&data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = ann
        .client
        .post(format!("{}/api/media", nodes.http(0)))
        .bearer_auth(&ann.token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = wa
        .expect_where("media", |f| {
            f["id"] == id.as_str() && f["status"] != "processing"
        })
        .await;
    assert_eq!(done["status"], "ready", "{done}");

    // Sent through node 1, received on node 2, downloaded through node 2 with the signed URL.
    wa.send(json!({"type": "send", "room": room, "client_id": "with-file", "body": "see attached", "attachments": [id]})).await;
    let ack = wa
        .expect_where_any(&["ack", "error"], |f| f["client_id"] == "with-file")
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let m = wb
        .expect_where("message", |f| f["client_id"] == "with-file")
        .await;
    let url = m["attachments"][0]["url"].as_str().unwrap().to_owned();
    let r = reqwest::get(format!("{}{url}", nodes.http(2)))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
}
