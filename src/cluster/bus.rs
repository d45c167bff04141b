//! The fan-out bus: one Redis pub/sub channel per deployment (`{prefix}:bus`) that every node
//! subscribes to. A room's committed write batch is published by the append script itself, in
//! the same atomic step that allocates its seqs, so every node receives a room's messages in seq
//! order; typing, room changes, new rooms and frames for particular users are published by the
//! node where they happen. Each node drops what concerns none of its sessions.
//!
//! A published payload is `SEQS\nEVENT`: `SEQS` is the comma-separated list of seqs the script
//! allocated (one per message of the event, in order, `0` for a duplicate that was not stored;
//! empty for events without messages) and `EVENT` the MessagePack of a [`BusEvent`] whose
//! messages were encoded before their seqs existed.
//!
//! Why one channel and not one per room: nothing to subscribe or unsubscribe as rooms come and go
//! (so nothing is missed while a subscription is being set up), and one ordered stream per node.
//! The cost is that every node decodes all traffic, which is fine for a handful of nodes.

use std::time::Duration;

use actix::prelude::*;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::ids::{MessageId, RoomId, SessionId, UserId};
use crate::protocol::{Role, ServerFrame, TypingState};
use crate::store::NewMessage;

/// Something that happened in a room, for the nodes where its members have sessions.
#[derive(Clone, Debug, Serialize, Deserialize)]
// `Message` is the common case; boxing it would add an allocation per message.
#[allow(clippy::large_enum_variant)]
pub enum BusItem {
    /// A new message; `session` is the sending session (which gets the ack, not the message).
    Message {
        msg: NewMessage,
        attachments: Vec<serde_json::Value>,
        session: Option<SessionId>,
        /// What the message quotes of the one it replies to.
        #[serde(default)]
        quote: Option<crate::protocol::Quote>,
    },
    Edited {
        id: MessageId,
        body: String,
        at: i64,
        #[serde(default)]
        mentions: Vec<UserId>,
    },
    /// A reaction added or taken back; `session` is the reacting session (answered directly).
    Reacted {
        user: UserId,
        session: Option<SessionId>,
        id: MessageId,
        emoji: String,
        on: bool,
    },
    Deleted {
        id: MessageId,
    },
    /// `share` = false: only the reader's own devices hear of it.
    Read {
        user: UserId,
        seq: i64,
        share: bool,
    },
    Delivered {
        user: UserId,
        seq: i64,
    },
    Typing {
        user: UserId,
        state: TypingState,
    },
    Changed(ChangeItem),
    /// In a dm, `blocker` blocked (`on`) or unblocked `blocked` (already stored).
    Blocked {
        blocker: UserId,
        blocked: UserId,
        on: bool,
    },
}

/// A durable change to a room's membership or name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeItem {
    Add { user: UserId },
    Remove { user: UserId },
    SetRole { user: UserId, role: Role },
    Update { name: Option<String> },
}

/// The items of one room, in order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoomBatch {
    pub room: RoomId,
    pub items: Vec<BusItem>,
}

impl RoomBatch {
    /// How many messages it carries (each takes one seq from the list).
    pub fn message_count(&self) -> usize {
        self.items
            .iter()
            .filter(|i| matches!(i, BusItem::Message { .. }))
            .count()
    }
}

/// What travels on the bus.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum BusEvent {
    /// Batches of one or more rooms (several rooms when the Persister grouped them).
    Rooms(Vec<RoomBatch>),
    /// A room was created with these members.
    RoomCreated { room: RoomId, members: Vec<UserId> },
    /// A frame for every session of these users (except one).
    ToUsers {
        users: Vec<UserId>,
        frame: Box<ServerFrame>,
        except: Option<SessionId>,
    },
    /// Close every session that authenticated with this token (logout).
    CloseToken {
        token_hash: String,
        code: u16,
        reason: String,
    },
}

/// Why a bus payload could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot encode a bus event: {0}")]
    Encode(String),
    #[error("malformed bus payload: {0}")]
    Decode(String),
}

/// The event part of a payload (the script prepends the seqs).
pub fn encode(event: &BusEvent) -> Result<Vec<u8>, BusError> {
    rmp_serde::to_vec_named(event).map_err(|e| BusError::Encode(e.to_string()))
}

/// A whole payload for events published without the append script (no seqs).
pub fn encode_plain(event: &BusEvent) -> Result<Vec<u8>, BusError> {
    let mut out = vec![b'\n'];
    out.extend(encode(event)?);
    Ok(out)
}

/// Reads a payload and puts the allocated seqs into its messages; duplicates (seq 0) are dropped.
pub fn decode(payload: &[u8]) -> Result<BusEvent, BusError> {
    let split = payload
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| BusError::Decode("no seq header".into()))?;
    let header =
        std::str::from_utf8(&payload[..split]).map_err(|e| BusError::Decode(e.to_string()))?;
    let mut event: BusEvent = rmp_serde::from_slice(&payload[split + 1..])
        .map_err(|e| BusError::Decode(e.to_string()))?;
    if header.is_empty() {
        return Ok(event);
    }
    let mut seqs = header.split(',').map(|s| s.parse::<i64>());
    if let BusEvent::Rooms(batches) = &mut event {
        for batch in batches.iter_mut() {
            let mut kept = Vec::with_capacity(batch.items.len());
            for item in batch.items.drain(..) {
                match item {
                    BusItem::Message {
                        mut msg,
                        attachments,
                        session,
                        quote,
                    } => {
                        let seq = seqs
                            .next()
                            .ok_or_else(|| BusError::Decode("fewer seqs than messages".into()))?
                            .map_err(|e| BusError::Decode(e.to_string()))?;
                        if seq > 0 {
                            msg.seq = seq;
                            kept.push(BusItem::Message {
                                msg,
                                attachments,
                                session,
                                quote,
                            });
                        }
                    }
                    other => kept.push(other),
                }
            }
            batch.items = kept;
        }
    }
    Ok(event)
}

/// An event received from the bus (sent to the RoomRegistry).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct FromBus {
    pub event: BusEvent,
}

/// The subscription was lost and re-established: events may have been missed meanwhile.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct BusResubscribed;

/// Subscribes to `channel` and hands every event to `to`, reconnecting after failures (with a
/// short pause). After a reconnect `lost` is told, since events published meanwhile are gone.
/// `ready` is told when the first subscription is in place.
pub fn spawn_subscriber(
    url: String,
    channel: String,
    to: Recipient<FromBus>,
    lost: Recipient<BusResubscribed>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    actix::spawn(async move {
        let mut first = true;
        let mut ready = Some(ready);
        loop {
            match subscribe_once(&url, &channel, &to, &lost, first, &mut ready).await {
                Ok(()) => tracing::warn!("bus subscription ended; resubscribing"),
                Err(e) => tracing::warn!(error = %e, "bus subscription failed; retrying"),
            }
            first = false;
            if !to.connected() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

async fn subscribe_once(
    url: &str,
    channel: &str,
    to: &Recipient<FromBus>,
    lost: &Recipient<BusResubscribed>,
    first: bool,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), redis::RedisError> {
    let client = redis::Client::open(url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    if let Some(tx) = ready.take() {
        // Startup may have stopped waiting for the first subscription (after 5 s).
        let _ = tx.send(());
    }
    if !first {
        lost.do_send(BusResubscribed);
    }
    let mut stream = pubsub.into_on_message();
    while let Some(msg) = stream.next().await {
        match decode(msg.get_payload_bytes()) {
            Ok(event) => {
                if to.send(FromBus { event }).await.is_err() {
                    return Ok(());
                }
            }
            Err(e) => tracing::error!(error = %e, "dropping a bus event that cannot be read"),
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn msg(cid: &str) -> BusItem {
        let msg = NewMessage {
            id: MessageId(format!("m-{cid}")),
            room: RoomId("r".into()),
            seq: 0,
            sender: UserId("u".into()),
            client_id: cid.into(),
            body: "hi".into(),
            attachments: vec![],
            reply_to: None,
            ts: 1,
            mentions: vec![],
            forwarded: false,
        };
        BusItem::Message {
            msg,
            attachments: vec![serde_json::json!({"id": "x"})],
            session: None,
            quote: None,
        }
    }

    #[test]
    fn seqs_from_the_header_fill_messages_and_drop_duplicates() {
        let ev = BusEvent::Rooms(vec![RoomBatch {
            room: RoomId("r".into()),
            items: vec![
                msg("a"),
                BusItem::Deleted {
                    id: MessageId("z".into()),
                },
                msg("b"),
                msg("c"),
            ],
        }]);
        let mut payload = b"7,0,8\n".to_vec();
        payload.extend(encode(&ev).unwrap());
        let BusEvent::Rooms(b) = decode(&payload).unwrap() else {
            panic!("not rooms")
        };
        let seqs: Vec<i64> = b[0]
            .items
            .iter()
            .filter_map(|i| {
                if let BusItem::Message { msg, .. } = i {
                    Some(msg.seq)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(seqs, [7, 8]);
        assert_eq!(b[0].items.len(), 3);
        assert!(decode(b"no header").is_err());
        assert!(decode(
            &encode_plain(&BusEvent::RoomCreated {
                room: RoomId("r".into()),
                members: vec![]
            })
            .unwrap()
        )
        .is_ok());
    }
}
