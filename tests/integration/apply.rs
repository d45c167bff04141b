//! `Store::apply_writes`, what the Syncer and the embedded Persister run for every batch, on
//! SQLite and on a real MariaDB: a replayed batch inserts nothing twice, marks only go up, and a
//! message that clashes with a stored one on (room, seq) is a conflict that leaves the stored row
//! and the rest of the batch untouched, never a message silently dropped or overwritten.

use chat_server::ids::{MessageId, RoomId, UserId};
use chat_server::store::{NewMessage, Store, StoreError, WriteOp};
use entities::{message, room, room_member};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::support::services::shared_mariadb;

fn msg(room: &RoomId, seq: i64, sender: &UserId, id: &str) -> NewMessage {
    NewMessage {
        id: MessageId(id.into()),
        room: room.clone(),
        seq,
        sender: sender.clone(),
        client_id: format!("c-{id}"),
        body: format!("body of {id}"),
        attachments: vec![],
        reply_to: None,
        ts: 1_000 + seq,
        mentions: vec![],
        forwarded: false,
    }
}

async fn marks(store: &Store, room: &RoomId, user: &UserId) -> (i64, i64) {
    let m = room_member::Entity::find_by_id((room.0.clone(), user.0.clone()))
        .one(&store.db)
        .await
        .unwrap()
        .unwrap();
    (m.last_read_seq, m.delivered_seq)
}

async fn last_seq(store: &Store, room: &RoomId) -> i64 {
    room::Entity::find_by_id(room.0.clone())
        .one(&store.db)
        .await
        .unwrap()
        .unwrap()
        .last_seq
}

async fn stored(store: &Store, room: &RoomId) -> u64 {
    message::Entity::find()
        .filter(message::Column::RoomId.eq(room.0.clone()))
        .count(&store.db)
        .await
        .unwrap()
}

async fn check(store: Store) {
    let a = UserId(store.create_user("ann", "Ann", "x").await.unwrap().id);
    let b = UserId(store.create_user("ben", "Ben", "x").await.unwrap().id);
    let (room, _) = store.get_or_create_dm(&a, &b).await.unwrap();
    let (other, _) = store
        .get_or_create_dm(
            &a,
            &UserId(store.create_user("cy", "Cy", "x").await.unwrap().id),
        )
        .await
        .unwrap();

    // Messages in two rooms, marks out of order and repeated: the highest mark wins.
    let batch = vec![
        WriteOp::Message(msg(&room, 1, &a, "m1")),
        WriteOp::Delivered {
            room: room.clone(),
            user: b.clone(),
            seq: 1,
        },
        WriteOp::Message(msg(&room, 2, &a, "m2")),
        WriteOp::Message(msg(&other, 1, &a, "o1")),
        WriteOp::Read {
            room: room.clone(),
            user: b.clone(),
            seq: 2,
        },
        WriteOp::Delivered {
            room: room.clone(),
            user: b.clone(),
            seq: 2,
        },
        WriteOp::Read {
            room: room.clone(),
            user: b.clone(),
            seq: 1,
        },
        WriteOp::Message(msg(&room, 3, &b, "m3")),
        WriteOp::Edit {
            room: room.clone(),
            id: MessageId("m1".into()),
            body: "edited".into(),
            at: 5_000,
            mentions: vec![],
        },
    ];
    store.apply_writes(&batch).await.unwrap();
    assert_eq!(
        (stored(&store, &room).await, stored(&store, &other).await),
        (3, 1)
    );
    assert_eq!(
        (
            last_seq(&store, &room).await,
            last_seq(&store, &other).await
        ),
        (3, 1)
    );
    assert_eq!(marks(&store, &room, &b).await, (2, 2));
    let m1 = message::Entity::find_by_id("m1".to_owned())
        .one(&store.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((m1.body.as_str(), m1.edited_at), ("edited", Some(5_000)));

    // Replayed (a crash between the commit and the stream ack): nothing changes.
    store.apply_writes(&batch).await.unwrap();
    assert_eq!(stored(&store, &room).await, 3);
    assert_eq!(marks(&store, &room, &b).await, (2, 2));
    let m1 = message::Entity::find_by_id("m1".to_owned())
        .one(&store.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m1.body, "edited");

    // A lower mark never lowers a stored one.
    store
        .apply_writes(&[WriteOp::Read {
            room: room.clone(),
            user: b.clone(),
            seq: 1,
        }])
        .await
        .unwrap();
    assert_eq!(marks(&store, &room, &b).await, (2, 2));

    // Another message under a stored (room, seq): a conflict; nothing of its batch is applied and
    // the stored message is untouched.
    let clash = vec![
        WriteOp::Message(msg(&room, 4, &a, "m4")),
        WriteOp::Message(msg(&room, 2, &b, "intruder")),
        WriteOp::Read {
            room: room.clone(),
            user: b.clone(),
            seq: 4,
        },
    ];
    let err = store.apply_writes(&clash).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(stored(&store, &room).await, 3);
    assert_eq!(last_seq(&store, &room).await, 3);
    assert_eq!(marks(&store, &room, &b).await, (2, 2));
    let m2 = message::Entity::find()
        .filter(message::Column::RoomId.eq(room.0.clone()))
        .filter(message::Column::Seq.eq(2))
        .one(&store.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((m2.id.as_str(), m2.body.as_str()), ("m2", "body of m2"));

    // The same client id again under a new id and seq: a conflict too.
    let mut again = msg(&room, 5, &a, "m5");
    again.client_id = "c-m1".into();
    assert!(matches!(
        store.apply_writes(&[WriteOp::Message(again)]).await,
        Err(StoreError::Conflict(_))
    ));

    // A batch larger than one statement's rows.
    let many: Vec<WriteOp> = (4..=1000)
        .map(|s| WriteOp::Message(msg(&room, s, &a, &format!("n{s}"))))
        .collect();
    store.apply_writes(&many).await.unwrap();
    assert_eq!(stored(&store, &room).await, 1000);
    assert_eq!(last_seq(&store, &room).await, 1000);
}

#[actix_web::test]
async fn apply_writes_on_sqlite_is_idempotent_and_never_drops_a_clashing_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}/t.db?mode=rwc", dir.path().display()),
        4,
    )
    .await
    .unwrap();
    check(store).await;
}

#[actix_web::test]
async fn apply_writes_on_mariadb_is_idempotent_and_never_drops_a_clashing_message() {
    let url = shared_mariadb().fresh_database().unwrap();
    let store = Store::connect(&url, 4).await.unwrap();
    check(store).await;
}
