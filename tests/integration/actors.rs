//! The actors driven directly: a RoomRegistry, its Rooms and a Persister on a throwaway SQLite
//! database, with stand-in sessions that record what they are sent.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chat_server::actors::outbox::{outlet, CloseSession, Inlet, SessionHandle};
use chat_server::actors::persister::{Persist, PersistHandle, Persister};
use chat_server::actors::registry::{GetRoom, RoomRegistry, SessionOpened};
use chat_server::actors::room::{AddMember, Draft, Inspect, Post, RemoveMember, Typing};
use chat_server::config::Settings;
use chat_server::error::ChatError;
use chat_server::ids::{RoomId, SessionId, UserId};
use chat_server::protocol::{ReceiptKind, SendFrame, ServerFrame, TypingState};
use chat_server::shutdown::Drain;
use chat_server::store::{Store, WriteOp};
use chat_server::websocket::Outbound;
use sea_orm::{ConnectionTrait, EntityTrait};
use tokio::sync::mpsc;

/// A stand-in for a WebSocket session: forwards every frame it is sent to a channel.
struct FakeSession {
    tx: mpsc::UnboundedSender<ServerFrame>,
    inlet: Option<Inlet>,
}

impl Actor for FakeSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(inlet) = self.inlet.take() {
            ctx.add_stream(inlet);
        }
    }
}

impl StreamHandler<Vec<Arc<Outbound>>> for FakeSession {
    fn handle(&mut self, frames: Vec<Arc<Outbound>>, _: &mut Context<Self>) {
        for f in frames {
            let _ = self.tx.send(f.frame.clone());
        }
    }
}

impl Handler<CloseSession> for FakeSession {
    type Result = ();
    fn handle(&mut self, _: CloseSession, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

struct Harness {
    store: Store,
    registry: Addr<RoomRegistry>,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}/t.db?mode=rwc", dir.path().display()),
        4,
    )
    .await
    .unwrap();
    let registry = start_registry(&store);
    Harness {
        store,
        registry,
        _dir: dir,
    }
}

fn start_registry(store: &Store) -> Addr<RoomRegistry> {
    let mut settings = Settings::default();
    settings.server.room_threads = 1;
    let persister = Persister::new(store.clone()).start();
    RoomRegistry::new(store.clone(), persister, Arc::new(settings)).start()
}

/// One user per name, in order.
async fn users<const N: usize>(store: &Store, names: [&str; N]) -> [UserId; N] {
    let mut made = Vec::with_capacity(N);
    for name in names {
        made.push(UserId(store.create_user(name, name, "x").await.unwrap().id));
    }
    made.try_into().unwrap()
}

/// Opens a fake session for `user` and returns the frames it receives.
async fn session(
    registry: &Addr<RoomRegistry>,
    user: &UserId,
) -> mpsc::UnboundedReceiver<ServerFrame> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (deliver, inlet) = outlet(10_000);
    let addr = FakeSession {
        tx,
        inlet: Some(inlet),
    }
    .start();
    let handle = SessionHandle {
        id: SessionId::generate(),
        user: user.clone(),
        token_hash: String::new(),
        deliver,
        close: addr.recipient(),
    };
    registry.send(SessionOpened { handle }).await.unwrap();
    rx
}

fn send(room: &RoomId, user: &UserId, cid: &str, body: &str) -> Post {
    Post {
        user: user.clone(),
        session: None,
        draft: Draft::new(SendFrame::new(room.clone(), cid.into(), body.into())),
        reference: None,
    }
}

async fn next_frame(rx: &mut mpsc::UnboundedReceiver<ServerFrame>) -> ServerFrame {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("no frame in time")
        .expect("session gone")
}

async fn stored_seqs(store: &Store, room: &RoomId) -> Vec<i64> {
    let (rows, _) = store.history(room, None, 1000).await.unwrap();
    rows.iter().map(|m| m.seq).collect()
}

#[actix::test]
async fn room_acks_after_commit_in_seq_order_and_fans_out() {
    let h = harness().await;
    let [a, b, c] = users(&h.store, ["a", "b", "c"]).await;
    let room = h
        .store
        .create_group(&a, "g", std::slice::from_ref(&b))
        .await
        .unwrap();
    let mut rx_b = session(&h.registry, &b).await;
    let mut rx_c = session(&h.registry, &c).await;
    let addr = h
        .registry
        .send(GetRoom { room: room.clone() })
        .await
        .unwrap()
        .unwrap();

    // Fifty sends in flight at once: they are batched, yet each ack has its own seq.
    let acks = futures_util::future::join_all(
        (0..50).map(|i| addr.send(send(&room, &a, &format!("c{i}"), &format!("m{i}")))),
    )
    .await;
    let mut seqs: Vec<i64> = acks.into_iter().map(|r| r.unwrap().unwrap().seq).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());

    // Everything acked is already in the database, in order.
    assert_eq!(
        stored_seqs(&h.store, &room).await,
        (1..=50).collect::<Vec<_>>()
    );
    // B receives all fifty in seq order (with the `delivered` receipts of B's own marks among
    // them: marks are written apart from the messages); C (not a member) receives nothing.
    let mut want = 1;
    while want <= 50 {
        match next_frame(&mut rx_b).await {
            ServerFrame::Message(m) => {
                assert_eq!(m.seq, want);
                want += 1;
            }
            ServerFrame::Receipt(r) => {
                assert_eq!((r.kind, &r.user), (ReceiptKind::Delivered, &b));
                assert!(r.seq < want, "a receipt follows the delivery it marks");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx_c.recv())
            .await
            .is_err()
    );
    assert_eq!(addr.send(Inspect).await.unwrap().last_seq, 50);
}

#[actix::test]
async fn resend_with_same_client_id_returns_the_first_ack_even_after_a_restart() {
    let h = harness().await;
    let [a, b] = users(&h.store, ["a", "b"]).await;
    let (room, _) = h.store.get_or_create_dm(&a, &b).await.unwrap();
    let addr = h
        .registry
        .send(GetRoom { room: room.clone() })
        .await
        .unwrap()
        .unwrap();
    let first = addr
        .send(send(&room, &a, "same", "hello"))
        .await
        .unwrap()
        .unwrap();
    let again = addr
        .send(send(&room, &a, "same", "hello"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id.clone(), again.seq), (first.id.clone(), first.seq));

    // A new registry (as after a server restart) loads the room afresh.
    let registry2 = start_registry(&h.store);
    let addr2 = registry2
        .send(GetRoom { room: room.clone() })
        .await
        .unwrap()
        .unwrap();
    let third = addr2
        .send(send(&room, &a, "same", "hello"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((third.id, third.seq), (first.id, first.seq));
    let next = addr2
        .send(send(&room, &a, "other", "next"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.seq, 2);
    assert_eq!(stored_seqs(&h.store, &room).await, vec![1, 2]);
}

#[actix::test]
async fn a_failed_write_is_not_acked_and_leaves_no_gap_in_seq() {
    let h = harness().await;
    let [a, b] = users(&h.store, ["a", "b"]).await;
    let (room, _) = h.store.get_or_create_dm(&a, &b).await.unwrap();
    let addr = h
        .registry
        .send(GetRoom { room: room.clone() })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        addr.send(send(&room, &a, "1", "one"))
            .await
            .unwrap()
            .unwrap()
            .seq,
        1
    );

    // Take the messages table away: the write fails and the sender is told so.
    h.store
        .db
        .execute_unprepared("ALTER TABLE messages RENAME TO messages_hidden")
        .await
        .unwrap();
    let failed = addr.send(send(&room, &a, "2", "two")).await.unwrap();
    assert!(
        matches!(failed, Err(ChatError::Unavailable(_))),
        "{failed:?}"
    );
    h.store
        .db
        .execute_unprepared("ALTER TABLE messages_hidden RENAME TO messages")
        .await
        .unwrap();

    // The retry gets the next seq: no gap where the failed write was.
    assert_eq!(
        addr.send(send(&room, &a, "2", "two"))
            .await
            .unwrap()
            .unwrap()
            .seq,
        2
    );
    assert_eq!(stored_seqs(&h.store, &room).await, vec![1, 2]);
}

#[actix::test]
async fn only_members_post_and_type_and_membership_rules_hold() {
    let h = harness().await;
    let [owner, member, outsider] = users(&h.store, ["o", "m", "x"]).await;
    let room = h
        .store
        .create_group(&owner, "g", std::slice::from_ref(&member))
        .await
        .unwrap();
    let addr = h
        .registry
        .send(GetRoom { room: room.clone() })
        .await
        .unwrap()
        .unwrap();
    let mut rx_outsider = session(&h.registry, &outsider).await;

    let refused = addr
        .send(send(&room, &outsider, "x", "let me in"))
        .await
        .unwrap();
    assert!(matches!(refused, Err(ChatError::NotMember)));
    let refused = addr
        .send(Typing {
            user: outsider.clone(),
            state: TypingState::Start,
        })
        .await
        .unwrap();
    assert!(matches!(refused, Err(ChatError::NotMember)));

    // A plain member cannot add people; the owner can, and the new member's live session
    // starts receiving the room at once.
    let refused = addr
        .send(AddMember {
            by: member.clone(),
            user: outsider.clone(),
        })
        .await
        .unwrap();
    assert!(matches!(refused, Err(ChatError::Forbidden(_))));
    addr.send(AddMember {
        by: owner.clone(),
        user: outsider.clone(),
    })
    .await
    .unwrap()
    .unwrap();
    match next_frame(&mut rx_outsider).await {
        ServerFrame::RoomEvent(e) => assert_eq!(e.user.as_ref(), Some(&outsider)),
        other => panic!("unexpected {other:?}"),
    }
    addr.send(send(&room, &owner, "w", "welcome"))
        .await
        .unwrap()
        .unwrap();
    match next_frame(&mut rx_outsider).await {
        ServerFrame::Message(m) => assert_eq!(m.body, "welcome"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        h.store
            .membership(&room, &outsider)
            .await
            .unwrap()
            .map(|r| r.as_str()),
        Some("member")
    );

    // A member cannot remove the owner; the owner removes the member, who is then refused.
    let refused = addr
        .send(RemoveMember {
            by: member.clone(),
            user: owner.clone(),
        })
        .await
        .unwrap();
    assert!(matches!(refused, Err(ChatError::Forbidden(_))));
    addr.send(RemoveMember {
        by: owner.clone(),
        user: outsider.clone(),
    })
    .await
    .unwrap()
    .unwrap();
    let refused = addr
        .send(send(&room, &outsider, "y", "still here?"))
        .await
        .unwrap();
    assert!(matches!(refused, Err(ChatError::NotMember)));
    assert!(h
        .store
        .membership(&room, &outsider)
        .await
        .unwrap()
        .is_none());
}

#[actix::test]
async fn registry_restarts_a_dead_room_with_its_state() {
    let h = harness().await;
    let [a, b] = users(&h.store, ["a", "b"]).await;
    let (room, _) = h.store.get_or_create_dm(&a, &b).await.unwrap();
    let addr = h
        .registry
        .send(GetRoom { room: room.clone() })
        .await
        .unwrap()
        .unwrap();
    addr.send(send(&room, &a, "1", "one"))
        .await
        .unwrap()
        .unwrap();
    // Stop the room actor from the outside, as a crash would.
    let stopped = h
        .registry
        .send(chat_server::actors::registry::RoomIdle {
            room: room.clone(),
            addr: addr.clone(),
        })
        .await
        .unwrap();
    assert!(stopped);
    drop(addr);
    let again = h
        .registry
        .send(GetRoom { room: room.clone() })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.send(Inspect).await.unwrap().last_seq, 1);
    assert_eq!(
        again
            .send(send(&room, &a, "2", "two"))
            .await
            .unwrap()
            .unwrap()
            .seq,
        2
    );
}

#[actix::test]
async fn unknown_room_is_not_found() {
    let h = harness().await;
    let res = h
        .registry
        .send(GetRoom {
            room: RoomId("nope".into()),
        })
        .await
        .unwrap();
    assert!(matches!(res, Err(ChatError::NotFound(_))));
}

/// A member's (delivered, read) marks as stored.
async fn stored_marks(store: &Store, room: &RoomId, user: &UserId) -> (i64, i64) {
    let m = entities::room_member::Entity::find_by_id((room.0.clone(), user.0.clone()))
        .one(&store.db)
        .await
        .unwrap()
        .unwrap();
    (m.delivered_seq, m.last_read_seq)
}

fn mark(room: &RoomId, user: &UserId, seq: i64, delivered: bool) -> Persist {
    let (room, user) = (room.clone(), user.clone());
    let op = if delivered {
        WriteOp::Delivered { room, user, seq }
    } else {
        WriteOp::Read { room, user, seq }
    };
    Persist::new(vec![op], None, 0)
}

#[actix::test]
async fn a_lazy_write_waits_for_the_next_group_or_the_linger_and_never_past_a_drain() {
    let h = harness().await;
    let [a, b, c] = users(&h.store, ["a", "b", "c"]).await;
    let (ab, _) = h.store.get_or_create_dm(&a, &b).await.unwrap();
    let (ac, _) = h.store.get_or_create_dm(&a, &c).await.unwrap();

    // A linger longer than the test: a lazy write alone is not written...
    let persister = Persister::new(h.store.clone())
        .with_linger(Duration::from_secs(3600))
        .start();
    let handle = PersistHandle::from(persister.clone());
    let mut lazy = Box::pin(handle.persist_lazy(mark(&ab, &b, 3, true)));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut lazy)
            .await
            .is_err(),
        "a lazy write alone waits for its linger"
    );
    assert_eq!(stored_marks(&h.store, &ab, &b).await, (0, 0));
    // ...until a write that is not lazy comes: both go in its group.
    handle.persist(mark(&ac, &c, 2, false)).await.unwrap();
    lazy.await.unwrap();
    assert_eq!(stored_marks(&h.store, &ab, &b).await, (3, 0));
    assert_eq!(stored_marks(&h.store, &ac, &c).await, (0, 2));

    // Shutdown's drain writes what is waiting at once.
    let lazy = handle.persist_lazy(mark(&ac, &c, 2, true));
    let waiting = tokio::spawn(lazy);
    persister.send(Drain).await.unwrap();
    waiting.await.unwrap().unwrap();
    assert_eq!(stored_marks(&h.store, &ac, &c).await, (2, 2));

    // With a short linger, lazy writes alone are written once it has passed, together.
    let persister = Persister::new(h.store.clone())
        .with_linger(Duration::from_millis(50))
        .start();
    let handle = PersistHandle::from(persister);
    let (x, y) = futures_util::future::join(
        handle.persist_lazy(mark(&ab, &b, 5, true)),
        handle.persist_lazy(mark(&ab, &a, 4, true)),
    )
    .await;
    x.unwrap();
    y.unwrap();
    assert_eq!(stored_marks(&h.store, &ab, &b).await, (5, 0));
    assert_eq!(stored_marks(&h.store, &ab, &a).await, (4, 0));
}
