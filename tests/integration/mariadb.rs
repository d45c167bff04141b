//! The same server on a real MariaDB (Debian's mariadbd, started by the test on a free port):
//! migrations apply, chat works, and text of every script round-trips byte for byte.

use serde_json::Value;

use crate::support::app::spawn_app_with;
use crate::support::services::shared_mariadb;

/// Bodies that break databases not set up for utf8mb4.
const BODIES: [&str; 5] = [
    "emoji 😀🎉",
    "family ZWJ 👩‍👩‍👧‍👦 and flag 🏳️‍🌈",
    "right-to-left שלום עולם مرحبا بالعالم",
    "mixed ‏RTL mark‎ and combining é (e\u{301})",
    "astral 𝕳𝖊𝖑𝖑𝖔 𓀀",
];

#[actix_web::test]
async fn chat_on_mariadb_round_trips_every_script_byte_for_byte() {
    let maria = shared_mariadb();
    let url = maria.fresh_database().unwrap();
    let db_name = url.rsplit('/').next().unwrap().to_owned();
    let app = spawn_app_with(|s| s.database.url = url.clone()).await;
    let (a, b) = (app.register("amir").await, app.register("bea").await);
    let room = a.dm(&b).await;
    let (mut ca, mut cb) = (a.connect().await, b.connect().await);
    for body in BODIES {
        ca.send_msg(&room, body).await;
        assert_eq!(cb.expect("message").await["body"], body);
    }

    // History read back from MariaDB is identical, byte for byte.
    let page: Value = b
        .get(&format!("/api/rooms/{room}/messages?limit=10"))
        .await
        .json()
        .await
        .unwrap();
    let got: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(got, BODIES);
    for (g, want) in got.iter().zip(BODIES) {
        assert_eq!(g.as_bytes(), want.as_bytes());
    }

    // And the rows really are in MariaDB, in utf8mb4 tables.
    let hex = maria
        .sql(
            &db_name,
            &format!("SELECT HEX(body) FROM messages WHERE room_id = '{room}' ORDER BY seq"),
        )
        .unwrap();
    let want: Vec<String> = BODIES
        .iter()
        .map(|b| b.bytes().map(|x| format!("{x:02X}")).collect())
        .collect();
    assert_eq!(hex.lines().collect::<Vec<_>>(), want);
    let charset = maria
        .sql(&db_name, "SELECT DISTINCT CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND CHARACTER_SET_NAME IS NOT NULL")
        .unwrap();
    assert_eq!(charset.trim(), "utf8mb4");

    // Seq and unread bookkeeping work on MariaDB too.
    let rooms: Value = b.get("/api/rooms").await.json().await.unwrap();
    assert_eq!(rooms["rooms"][0]["last_seq"], 5);
    assert_eq!(rooms["rooms"][0]["unread"], 5);
}
