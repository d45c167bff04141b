//! Message search (`GET /api/search`) end to end, as a user sees it: only the rooms one belongs
//! to, words in any language (accents folded, CJK by substring), phrases and prefixes, edits and
//! deletes honoured, bad input refused with a 400 and never another room's data; in embedded
//! mode, with Redis + MariaDB (a message still only in the Redis buffer is found), across a
//! restart that missed writes (the index catches up, deletes included), and across cluster nodes.

use std::time::Duration;

use chat_server::actors::syncer::SyncNow;
use chat_server::config::{Rate, Settings};
use serde_json::{json, Value};

use crate::restart::{register, ServerProcess};
use crate::support::app::{spawn_app_with, TestApp, TestUser};
use crate::support::services::{free_port, shared_mariadb, RedisServer};

/// How long the index may take to show a write (the promise for buffered messages).
const SEARCHABLE_WITHIN: Duration = Duration::from_secs(2);
/// Longest wait for a rebuild or catch-up after a start.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(20);

/// The tests poll searches: no per-user search limit in the way.
fn generous(s: &mut Settings) {
    s.limits.search_per_user = Rate {
        burst: 1_000_000,
        period_ms: 1,
    };
}

/// Environment for a server process with the same. The catch-up after a restart starts right
/// at the index's watermark (no slack; one clock here), so what it finds it finds by what
/// changed after that, and a message deleted while the server was down only by the deleted ids.
fn generous_env() -> Vec<(&'static str, String)> {
    vec![
        ("CHAT__LIMITS__SEARCH_PER_USER__BURST", "1000000".into()),
        ("CHAT__LIMITS__SEARCH_PER_USER__PERIOD_MS", "1".into()),
        ("CHAT__SEARCH__CATCHUP_SLACK_MS", "0".into()),
    ]
}

async fn spawn() -> TestApp {
    spawn_app_with(generous).await
}

/// `support::app::app_on` (a fresh Redis prefix, this database, the Syncer every
/// `interval_ms`), without the search limit.
async fn redis_app(redis: &RedisServer, db_url: &str, interval_ms: u64) -> TestApp {
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let (redis_url, db_url) = (redis.url(), db_url.to_owned());
    spawn_app_with(move |s| {
        s.redis.url = redis_url;
        s.redis.prefix = prefix;
        s.redis.sync_interval_ms = interval_ms;
        s.database.url = db_url;
        generous(s);
    })
    .await
}

/// The value of an unlabelled metric of a server process.
async fn metric(http: &str, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("{http}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// `GET /api/search` with these parameters: (status, body).
async fn search_raw(u: &TestUser, params: &[(&str, &str)]) -> (u16, Value) {
    let r = u
        .client
        .get(format!("{}/api/search", u.http))
        .query(params)
        .bearer_auth(&u.token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The results of a search that must succeed.
async fn search(u: &TestUser, params: &[(&str, &str)]) -> Vec<Value> {
    let (status, body) = search_raw(u, params).await;
    assert_eq!(status, 200, "search {params:?}: {body}");
    body["results"].as_array().unwrap().clone()
}

/// The bodies found for `q`.
async fn bodies(u: &TestUser, q: &str) -> Vec<String> {
    search(u, &[("q", q)])
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls the search for `q` until `pred` holds of the bodies found, for at most `within`;
/// returns them.
async fn until(
    u: &TestUser,
    q: &str,
    within: Duration,
    what: &str,
    pred: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let found = bodies(u, q).await;
        if pred(&found) {
            return found;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("within {within:?}, searching {q:?}: {what}; found {found:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until searching `q` finds exactly `want` (in any order).
async fn until_exactly(u: &TestUser, q: &str, want: &[&str], within: Duration) {
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    until(u, q, within, &format!("exactly {want:?}"), |found| {
        let mut f = found.to_vec();
        f.sort();
        f == want
    })
    .await;
}

#[actix_web::test]
async fn search_finds_my_rooms_messages_with_highlight_and_strangers_find_nothing() {
    let app = spawn().await;
    let [ann, bob, eve] = app.register_many(["ann", "bob", "eve"]).await;
    let dm = ann.dm(&bob).await;
    let group = ann.group("lunch", &[&bob]).await;
    let mut ws = ann.connect().await;
    ws.send_msg(&dm, "Lunch at the <café> tomorrow?").await;
    ws.send_msg(&group, "the cafe on the corner & the bakery")
        .await;
    ws.send_msg(&group, "nothing to see here").await;

    until_exactly(
        &bob,
        "CAFÉ",
        &[
            "Lunch at the <café> tomorrow?",
            "the cafe on the corner & the bakery",
        ],
        SEARCHABLE_WITHIN,
    )
    .await;
    let results = search(&bob, &[("q", "cafe"), ("room", &dm)]).await;
    assert_eq!(results.len(), 1);
    let m = &results[0];
    assert_eq!(m["room"], dm.as_str());
    assert_eq!(m["from"], ann.id.as_str());
    assert_eq!(m["seq"], 1);
    assert!(m["id"].is_string() && m["ts"].is_i64());
    assert_eq!(
        m["highlight"],
        "Lunch at the &lt;<mark>café</mark>&gt; tomorrow?"
    );

    // A stranger finds nothing, even naming the room (and learns nothing about it).
    assert!(bodies(&eve, "cafe").await.is_empty());
    for room in [dm.as_str(), group.as_str(), "no-such-room"] {
        let (status, body) = search_raw(&eve, &[("q", "cafe"), ("room", room)]).await;
        assert_eq!((status, body), (200, json!({"results": []})));
    }
    // Leaving a room takes its messages out of one's results.
    let r = bob
        .post(&format!("/api/rooms/{group}/leave"), json!({}))
        .await;
    assert!(r.status().is_success(), "leave: {}", r.status());
    assert_eq!(
        bodies(&bob, "cafe").await,
        ["Lunch at the <café> tomorrow?"]
    );
    // Without a token: 401.
    let r = app
        .client
        .get(format!("{}/api/search?q=cafe", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    ws.close().await;
    app.quiesce().await;
}

#[actix_web::test]
async fn edits_replace_the_indexed_text_and_deletes_drop_it() {
    let app = spawn().await;
    let [ann, bob] = app.register_many(["ann", "bob"]).await;
    let dm = ann.dm(&bob).await;
    let mut ws = ann.connect().await;
    let id = ws.send_msg(&dm, "the original wording").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    until_exactly(
        &bob,
        "original",
        &["the original wording"],
        SEARCHABLE_WITHIN,
    )
    .await;

    ws.send(json!({"type": "edit", "id": id, "body": "a revised phrasing"}))
        .await;
    ws.expect_where("edited", |f| f["id"] == id.as_str()).await;
    until_exactly(&bob, "revised", &["a revised phrasing"], SEARCHABLE_WITHIN).await;
    assert!(bodies(&bob, "original").await.is_empty());
    let hit = &search(&bob, &[("q", "revised")]).await[0];
    assert!(hit["edited_at"].is_i64());

    ws.send(json!({"type": "delete", "id": id})).await;
    ws.expect_where("deleted", |f| f["id"] == id.as_str()).await;
    // Gone at once from the results (the store is asked), and from the index soon after.
    assert!(bodies(&bob, "revised").await.is_empty());
    until_exactly(&bob, "phrasing", &[], SEARCHABLE_WITHIN).await;
    ws.close().await;
    app.quiesce().await;
}

#[actix_web::test]
async fn writes_the_indexer_had_no_room_for_are_indexed_by_a_later_catch_up() {
    // A backlog of 0: every live change is dropped, as when the indexer is far behind.
    let app = spawn_app_with(|s| {
        generous(s);
        s.search.max_backlog = 0;
    })
    .await;
    // The start-up catch-up is over, so only the recovery can index what follows.
    let caught_up = tokio::time::Instant::now() + CATCH_UP_WITHIN;
    while metric(&app.http, "chat_search_catching_up").await != Some(0.0) {
        assert!(tokio::time::Instant::now() < caught_up, "start-up catch-up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let [ann, bob] = app.register_many(["ann", "bob"]).await;
    let dm = ann.dm(&bob).await;
    let mut ws = ann.connect().await;
    let id = ws.send_msg(&dm, "a wombat crossed the road").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ws.send_msg(&dm, "another wombat followed").await;
    until_exactly(
        &bob,
        "wombat",
        &["a wombat crossed the road", "another wombat followed"],
        CATCH_UP_WITHIN,
    )
    .await;
    assert!(metric(&app.http, "chat_search_dropped_total").await >= Some(2.0));
    // An edit and a delete are dropped too, and read back the same way.
    ws.send(json!({"type": "edit", "id": id, "body": "a koala crossed the road"}))
        .await;
    ws.expect_where("edited", |f| f["id"] == id.as_str()).await;
    until_exactly(
        &bob,
        "crossed",
        &["a koala crossed the road"],
        CATCH_UP_WITHIN,
    )
    .await;
    ws.close().await;
    app.quiesce().await;
}

#[actix_web::test]
async fn any_language_phrases_and_prefixes() {
    let app = spawn().await;
    let [ann, bob] = app.register_many(["ann", "bob"]).await;
    let dm = ann.dm(&bob).await;
    let mut ws = ann.connect().await;
    let texts = [
        "我们明天在東京都见面",
        "今日は京都に行きます",
        "한국어 공부를 시작했어요",
        "Привет, как дела?",
        "Ünïcödé naïve résumé",
        "the quick brown fox",
        "a brown and quick dog",
        "deployment finished",
        "field:value pairs",
    ];
    for t in texts {
        ws.send_msg(&dm, t).await;
    }
    until(
        &bob,
        "deployment",
        SEARCHABLE_WITHIN,
        "the last message",
        |f| f.len() == 1,
    )
    .await;

    // CJK by substring, inside unbroken text, including a single character.
    assert_eq!(bodies(&bob, "東京").await, [texts[0]]);
    let mut kyoto = bodies(&bob, "京都").await;
    kyoto.sort();
    assert_eq!(kyoto, [texts[1], texts[0]]);
    assert_eq!(bodies(&bob, "明天在東").await, [texts[0]]);
    assert_eq!(bodies(&bob, "行").await, [texts[1]]);
    assert_eq!(bodies(&bob, "공부").await, [texts[2]]);
    assert!(bodies(&bob, "東京タワー").await.is_empty());
    let hit = &search(&bob, &[("q", "京都")]).await;
    let marked: Vec<&str> = hit
        .iter()
        .map(|m| m["highlight"].as_str().unwrap())
        .collect();
    assert!(
        marked.contains(&"我们明天在東<mark>京都</mark>见面"),
        "{marked:?}"
    );
    // Other scripts and folded accents.
    assert_eq!(bodies(&bob, "ПРИВЕТ").await, [texts[3]]);
    assert_eq!(bodies(&bob, "unicode resume").await, [texts[4]]);
    assert_eq!(bodies(&bob, "NAÏVE").await, [texts[4]]);
    // Phrases keep word order; bare words do not.
    assert_eq!(bodies(&bob, "\"quick brown\"").await, [texts[5]]);
    assert_eq!(bodies(&bob, "quick brown").await.len(), 2);
    assert_eq!(bodies(&bob, "\"brown quick\"").await, Vec::<String>::new());
    // Prefixes.
    assert_eq!(bodies(&bob, "deploy*").await, [texts[7]]);
    assert!(bodies(&bob, "deploy").await.is_empty());
    assert_eq!(bodies(&bob, "\"quick bro*\"").await, [texts[5]]);
    // Engine syntax is text: `field:value` finds the words.
    assert_eq!(bodies(&bob, "field:value").await, [texts[8]]);
    ws.close().await;
    app.quiesce().await;
}

#[actix_web::test]
async fn newest_first_with_limit_and_cursor_pages() {
    let app = spawn().await;
    let [ann, bob] = app.register_many(["ann", "bob"]).await;
    let dm = ann.dm(&bob).await;
    let mut ws = ann.connect().await;
    for i in 1..=5 {
        ws.send_msg(&dm, &format!("status report {i}")).await;
    }
    until(&bob, "report", SEARCHABLE_WITHIN, "five reports", |f| {
        f.len() == 5
    })
    .await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut params = vec![("q", "report"), ("sort", "newest"), ("limit", "2")];
        if !cursor.is_empty() {
            params.push(("cursor", &cursor));
        }
        let (status, page) = search_raw(&bob, &params).await;
        assert_eq!(status, 200);
        let results = page["results"].as_array().unwrap();
        assert!(results.len() <= 2);
        seen.extend(results.iter().map(|m| m["seq"].as_i64().unwrap()));
        match page["next"].as_str() {
            Some(n) => cursor = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, [5, 4, 3, 2, 1]);
    // Relevance (the default) finds the same five; a limit above 100 is capped, not refused.
    let all = search(&bob, &[("q", "report"), ("limit", "5000")]).await;
    assert_eq!(all.len(), 5);
    ws.close().await;
    app.quiesce().await;
}

#[actix_web::test]
async fn bad_input_is_a_400_and_engine_syntax_never_reaches_another_room() {
    let app = spawn().await;
    let [ann, bob, eve] = app.register_many(["ann", "bob", "eve"]).await;
    let dm = ann.dm(&bob).await;
    let secret_room = eve.group("eve's", &[]).await;
    let mut ea = eve.connect().await;
    ea.send_msg(
        &secret_room,
        "secret body room OR AND NOT NEAR MATCH 1=1 x' -- ( ) * \"",
    )
    .await;
    let mut ws = ann.connect().await;
    ws.send_msg(&dm, "an ordinary message").await;
    until(&bob, "ordinary", SEARCHABLE_WITHIN, "the dm message", |f| {
        f.len() == 1
    })
    .await;
    until(
        &eve,
        "secret",
        SEARCHABLE_WITHIN,
        "eve's own message",
        |f| f.len() == 1,
    )
    .await;

    let too_long = "a".repeat(257);
    let too_many = vec!["w"; 17].join(" ");
    let bad: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("q", "")],
        vec![("q", "   \t ")],
        vec![("q", &too_long)],
        vec![("q", &too_many)],
        vec![("q", "\"")],
        vec![("q", "*")],
        vec![("q", "((( ))) -- ;")],
        vec![("q", "ordinary"), ("sort", "oldest")],
        vec![("q", "ordinary"), ("limit", "abc")],
        vec![("q", "ordinary"), ("limit", "0")],
        vec![("q", "ordinary"), ("limit", "-5")],
        vec![("q", "ordinary"), ("cursor", "abc")],
        vec![("q", "ordinary"), ("cursor", "o-1")],
        vec![("q", "ordinary"), ("cursor", "o99999999")],
        vec![("q", "ordinary"), ("cursor", "' OR 1=1 --")],
    ];
    for params in &bad {
        let (status, body) = search_raw(&bob, params).await;
        assert_eq!(status, 400, "{params:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid", "{params:?}: {body}");
    }
    // Syntax of SQL, FTS5, MariaDB and tantivy as queries: a literal match or a 400, never a 500,
    // and never eve's message.
    let syntax = [
        "secret",
        "\"secret\"",
        "secret*",
        "s*",
        "NEAR(secret body)",
        "secret NEAR body",
        "body MATCH secret",
        "secret AND body",
        "secret OR ordinary",
        "NOT ordinary",
        "body:secret",
        "room:secret",
        &format!("room:{secret_room}"),
        "' OR 1=1 --",
        "'; DROP TABLE messages; --",
        "x' OR 'x'='x",
        "(secret",
        "secret)",
        "[secret TO z]",
        "secret~2",
        "secret^10",
        "+secret -ordinary",
        "%",
        "_",
        "\\",
        "\"unbalanced ordinary",
    ];
    for q in syntax {
        let (status, body) = search_raw(&bob, &[("q", q)]).await;
        assert!(status == 200 || status == 400, "{q:?}: {status} {body}");
        if status == 200 {
            for m in body["results"].as_array().unwrap() {
                assert_eq!(m["room"], dm.as_str(), "{q:?} leaked {m}");
            }
        }
        let (status, body) = search_raw(&bob, &[("q", q), ("room", &secret_room)]).await;
        assert!(status == 200 || status == 400, "{q:?}: {status}");
        if status == 200 {
            assert_eq!(body["results"], json!([]), "{q:?} in eve's room");
        }
    }
    // Literal matches where the words are there.
    assert_eq!(
        bodies(&bob, "\"unbalanced ordinary").await,
        Vec::<String>::new()
    );
    assert_eq!(bodies(&bob, "(ordinary)").await, ["an ordinary message"]);
    assert_eq!(bodies(&bob, "ordinary*").await, ["an ordinary message"]);
    ws.close().await;
    ea.close().await;
    app.quiesce().await;
}

#[actix_web::test]
async fn with_redis_a_message_only_in_the_buffer_is_found_within_2s_and_edits_and_deletes_too() {
    let redis = RedisServer::start().unwrap();
    let maria = shared_mariadb();
    let url = maria.fresh_database().unwrap();
    let db = url.rsplit('/').next().unwrap().to_owned();
    // A Syncer timer that never fires during the test: the test drives the Syncer itself.
    let app = redis_app(&redis, &url, 3_600_000).await;
    let count = |sql: &str| -> i64 { maria.sql(&db, sql).unwrap().trim().parse().unwrap() };
    let [ann, bob] = app.register_many(["ann", "bob"]).await;
    let dm = ann.dm(&bob).await;
    let mut ws = ann.connect().await;
    let id = ws.send_msg(&dm, "kangaroo sighting at dawn").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    until_exactly(
        &bob,
        "kangaroo",
        &["kangaroo sighting at dawn"],
        SEARCHABLE_WITHIN,
    )
    .await;
    assert_eq!(
        count("SELECT COUNT(*) FROM messages"),
        0,
        "still only in Redis"
    );

    ws.send(json!({"type": "edit", "id": id, "body": "wallaby sighting at dawn"}))
        .await;
    ws.expect_where("edited", |f| f["id"] == id.as_str()).await;
    until_exactly(
        &bob,
        "wallaby",
        &["wallaby sighting at dawn"],
        SEARCHABLE_WITHIN,
    )
    .await;
    assert!(bodies(&bob, "kangaroo").await.is_empty());

    let gone = ws.send_msg(&dm, "platypus in the creek").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    until_exactly(
        &bob,
        "platypus",
        &["platypus in the creek"],
        SEARCHABLE_WITHIN,
    )
    .await;
    ws.send(json!({"type": "delete", "id": gone})).await;
    ws.expect_where("deleted", |f| f["id"] == gone.as_str())
        .await;
    assert!(bodies(&bob, "platypus").await.is_empty());
    assert_eq!(count("SELECT COUNT(*) FROM messages"), 0);

    // Once the Syncer copied everything to MariaDB, the results read the same.
    app.state.syncer.as_ref().unwrap().do_send(SyncNow);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count("SELECT COUNT(*) FROM messages WHERE deleted = 1") < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sync did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bodies(&bob, "wallaby").await, ["wallaby sighting at dawn"]);
    assert!(bodies(&bob, "platypus").await.is_empty());
    assert!(bodies(&bob, "kangaroo").await.is_empty());
    ws.close().await;
    app.quiesce().await;
}

#[actix_web::test]
async fn a_restarted_server_catches_up_on_writes_it_missed_and_a_lost_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/chat.db?mode=rwc", dir.path().display());
    let port = free_port();
    let env = generous_env();
    let mut server = ServerProcess::start(dir.path(), &db, port, &env).await;
    let ann = register(&server.http, port, "ann").await;
    let bob = register(&server.http, port, "bob").await;
    let dm = ann.dm(&bob).await;
    let mut ws = ann.connect().await;
    let doomed = ws.send_msg(&dm, "doomed message about otters").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let changed = ws.send_msg(&dm, "first draft about beavers").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    until(&bob, "about", SEARCHABLE_WITHIN, "both messages", |f| {
        f.len() == 2
    })
    .await;
    ws.close().await;
    server.kill9();

    // Meanwhile the same database is written by a server that keeps no index: a delete, an edit
    // and a new message that the index never heard of.
    let mut env_off = env.clone();
    env_off.push(("CHAT__SEARCH__ENABLED", "false".into()));
    let mut other = ServerProcess::start(dir.path(), &db, port, &env_off).await;
    let (status, _) = search_raw(&bob, &[("q", "otters")]).await;
    assert_eq!(status, 503, "search is off on that server");
    let mut ws = ann.connect().await;
    ws.send(json!({"type": "delete", "id": doomed})).await;
    ws.expect_where("deleted", |f| f["id"] == doomed.as_str())
        .await;
    ws.send(json!({"type": "edit", "id": changed, "body": "final text about muskrats"}))
        .await;
    ws.expect_where("edited", |f| f["id"] == changed.as_str())
        .await;
    ws.send_msg(&dm, "new message about herons").await;
    ws.close().await;
    other.kill9();

    // The indexing server again, on its old index: it catches up.
    let mut server = ServerProcess::start(dir.path(), &db, port, &env).await;
    until_exactly(
        &bob,
        "herons",
        &["new message about herons"],
        CATCH_UP_WITHIN,
    )
    .await;
    until_exactly(
        &bob,
        "muskrats",
        &["final text about muskrats"],
        CATCH_UP_WITHIN,
    )
    .await;
    // The old text of the edit no longer matches, and the message deleted meanwhile is not found
    // (results show the stored message, so the index's count shows it left the index too).
    until_exactly(&bob, "beavers", &[], CATCH_UP_WITHIN).await;
    assert!(bodies(&bob, "otters").await.is_empty());
    let deadline = tokio::time::Instant::now() + CATCH_UP_WITHIN;
    while metric(&server.http, "chat_search_documents").await != Some(2.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "index still holds the deleted message"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut about = bodies(&bob, "about").await;
    about.sort();
    assert_eq!(
        about,
        ["final text about muskrats", "new message about herons"]
    );
    server.kill9();

    // An index lost (or from another version) is rebuilt from the database.
    std::fs::remove_dir_all(dir.path().join("search")).unwrap();
    let _server = ServerProcess::start(dir.path(), &db, port, &env).await;
    until(&bob, "about", CATCH_UP_WITHIN, "the rebuilt index", |f| {
        f.len() == 2
    })
    .await;
    assert!(bodies(&bob, "otters").await.is_empty());
    assert_eq!(
        bodies(&bob, "muskrats").await,
        ["final text about muskrats"]
    );
}

#[actix_web::test]
async fn cluster_nodes_each_find_what_any_node_wrote_and_catch_up_after_a_restart() {
    let redis = RedisServer::start().unwrap();
    let url = shared_mariadb().fresh_database().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..2).map(|_| free_port()).collect();
    let env = |i: usize| {
        let mut e = vec![
            ("CHAT__REDIS__URL", redis.url()),
            ("CHAT__CLUSTER__ENABLED", "true".to_string()),
            ("CHAT__CLUSTER__NODE_ID", format!("node{i}")),
            ("CHAT__CLUSTER__HEARTBEAT_MS", "200".to_string()),
            ("CHAT__CLUSTER__NODE_TTL_MS", "1000".to_string()),
            ("CHAT__REDIS__SYNC_INTERVAL_MS", "50".to_string()),
            ("CHAT__MEDIA__URL_SECRET", "shared".to_string()),
            ("CHAT__MEDIA__WORKERS", "1".to_string()),
            ("CHAT__MEDIA__WORKER_SCHED_IDLE", "false".to_string()),
            ("CHAT__SERVER__WORKERS", "1".to_string()),
            ("CHAT__SERVER__ROOM_THREADS", "1".to_string()),
        ];
        e.extend(generous_env());
        e
    };
    let node0 = ServerProcess::start(dir.path(), &url, ports[0], &env(0)).await;
    let mut node1 = ServerProcess::start(dir.path(), &url, ports[1], &env(1)).await;
    let ann = register(&node0.http, ports[0], "ann").await;
    let bob0 = register(&node0.http, ports[0], "bob").await;
    let bob1 = TestUser {
        http: node1.http.clone(),
        ws: format!("ws://127.0.0.1:{}/ws", ports[1]),
        ..bob0.clone()
    };
    let dm = ann.dm(&bob0).await;
    let mut ws = ann.connect().await;
    let id = ws.send_msg(&dm, "gannets nesting on the cliff").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Written through node 0, found on both nodes.
    for bob in [&bob0, &bob1] {
        until_exactly(
            bob,
            "gannets",
            &["gannets nesting on the cliff"],
            SEARCHABLE_WITHIN,
        )
        .await;
    }
    // An edit through node 0 reaches node 1's index over the bus.
    ws.send(json!({"type": "edit", "id": id, "body": "puffins nesting on the cliff"}))
        .await;
    ws.expect_where("edited", |f| f["id"] == id.as_str()).await;
    until_exactly(
        &bob1,
        "puffins",
        &["puffins nesting on the cliff"],
        SEARCHABLE_WITHIN,
    )
    .await;

    // Node 1 goes down; node 0 deletes the message and writes a new one.
    node1.kill9();
    ws.send(json!({"type": "delete", "id": id})).await;
    ws.expect_where("deleted", |f| f["id"] == id.as_str()).await;
    ws.send_msg(&dm, "cormorants drying their wings").await;
    ws.close().await;
    let node1 = ServerProcess::start(dir.path(), &url, ports[1], &env(1)).await;
    until_exactly(
        &bob1,
        "cormorants",
        &["cormorants drying their wings"],
        CATCH_UP_WITHIN,
    )
    .await;
    until_exactly(&bob1, "nesting", &[], CATCH_UP_WITHIN).await;
    // The deleted message left node 1's index, not just its results.
    let deadline = tokio::time::Instant::now() + CATCH_UP_WITHIN;
    while metric(&node1.http, "chat_search_documents").await != Some(1.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node 1's index still holds the deleted message"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until_exactly(&bob0, "nesting", &[], SEARCHABLE_WITHIN).await;
    drop(node0);
}
