//! The wire form of the store's read types that the actors and several services share:
//! `chat_protocol` types made from `store::messages::Message`, `store::media::MediaItem`,
//! `store::quotes::Quoted`, `store::rooms::RoomOverview` and `store::invitations::InvitationView`,
//! with media URLs signed here (the store holds no URL key). What only one service answers
//! (a room's details, admin rows, broadcast lists, ...) it converts itself.

use crate::ids::now_secs;
use crate::media::urls::{UrlSigner, Variant};
use crate::protocol::{Invitation, MediaOut, MediaStatus, MessageOut, Quote, RoomSummary, UserOut};
use crate::store::invitations::InvitationView;
use crate::store::media::MediaItem;
use crate::store::messages::{Attachment, Message};
use crate::store::quotes::Quoted;
use crate::store::rooms::RoomOverview;

/// A media item as `GET /api/media/{id}` shows it, with URLs signed now by `urls` (content and
/// thumbnail, once it is ready and they are stored).
pub fn media(m: &MediaItem, urls: &UrlSigner) -> MediaOut {
    let now = now_secs();
    let ready = m.status == MediaStatus::Ready;
    MediaOut {
        id: m.id.clone(),
        status: m.status,
        kind: m.kind.clone(),
        mime: m.mime.clone(),
        size: m.size,
        url: (ready && m.has_content).then(|| urls.url(&m.id, Variant::Content, now)),
        thumb_url: (ready && m.has_thumb).then(|| urls.url(&m.id, Variant::Thumb, now)),
        width: m.width,
        height: m.height,
        duration_ms: m.duration_ms,
        name: m.name.clone(),
        error: m.error.clone(),
    }
}

/// Media items as attachments, in order.
pub fn media_list(items: &[MediaItem], urls: &UrlSigner) -> Vec<MediaOut> {
    items.iter().map(|m| media(m, urls)).collect()
}

/// An attachment of a read message: the media item's fields (as [`media`]), or only its id when
/// the media is gone.
fn attachment(a: Attachment, urls: &UrlSigner) -> serde_json::Value {
    let Some(item) = a.media else {
        return serde_json::json!({ "id": a.id });
    };
    serde_json::to_value(media(&item, urls)).unwrap_or_else(|e| {
        // A struct of strings and numbers always serializes; should it not, the id still does.
        tracing::error!(media = %a.id, error = %e, "cannot write a media item; sent as its id");
        serde_json::json!({ "id": a.id })
    })
}

/// A quote as a reply carries it.
pub fn quote(q: Quoted) -> Quote {
    Quote {
        id: q.id,
        from: q.from,
        text: q.text,
        deleted: q.deleted,
    }
}

/// A read message as `history`, `sync`, search and pins answer it.
pub fn message(m: Message, urls: &UrlSigner) -> MessageOut {
    MessageOut {
        room: m.room,
        id: m.id,
        seq: m.seq,
        from: m.sender,
        body: m.body,
        attachments: m
            .attachments
            .into_iter()
            .map(|a| attachment(a, urls))
            .collect(),
        reply_to: m.reply_to,
        client_id: m.client_id,
        ts: m.ts,
        edited_at: m.edited_at,
        deleted: m.deleted,
        reactions: m.reactions,
        mentions: m.mentions,
        quote: m.quote.map(quote),
        forwarded: m.forwarded,
    }
}

/// Read messages, in order.
pub fn messages(ms: Vec<Message>, urls: &UrlSigner) -> Vec<MessageOut> {
    ms.into_iter().map(|m| message(m, urls)).collect()
}

/// A room of the room list (`hello`, `GET /api/rooms`).
pub fn room_summary(r: RoomOverview) -> RoomSummary {
    RoomSummary {
        id: r.id,
        kind: r.kind,
        name: r.name,
        last_seq: r.last_seq,
        unread: r.unread,
        unread_mentions: r.unread_mentions,
    }
}

/// The room list, in order.
pub fn room_summaries(rs: Vec<RoomOverview>) -> Vec<RoomSummary> {
    rs.into_iter().map(room_summary).collect()
}

/// An invitation as its invitee sees it.
pub fn invitation(v: InvitationView) -> Invitation {
    Invitation {
        id: v.id,
        room: v.room,
        room_name: v.room_name,
        inviter: UserOut {
            id: v.inviter,
            username: v.inviter_username,
            display_name: v.inviter_display_name,
        },
        created_at: v.created_at,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ids::{MessageId, RoomId, UserId};

    fn item(status: MediaStatus, has_thumb: bool) -> MediaItem {
        MediaItem {
            id: "m1".into(),
            status,
            kind: "image".into(),
            mime: "image/webp".into(),
            size: 10,
            has_content: true,
            has_thumb,
            width: Some(4),
            height: Some(3),
            duration_ms: None,
            name: Some("cat.png".into()),
            error: None,
        }
    }

    #[test]
    fn only_ready_media_gets_signed_urls_and_only_for_stored_files() {
        let urls = UrlSigner::new("k", 60);
        let ready = media(&item(MediaStatus::Ready, false), &urls);
        let content = ready.url.unwrap();
        assert!(content.starts_with("/media/m1/"), "{content}");
        assert_eq!(ready.thumb_url, None);
        let busy = media(&item(MediaStatus::Processing, true), &urls);
        assert_eq!((busy.url, busy.thumb_url), (None, None));
    }

    #[test]
    fn an_attachment_whose_media_is_gone_is_only_its_id() {
        let urls = UrlSigner::new("k", 60);
        let m = Message {
            room: RoomId::from("r"),
            id: MessageId::from("x"),
            seq: 1,
            sender: UserId::from("ann"),
            body: "hi".into(),
            attachments: vec![
                Attachment {
                    id: "gone".into(),
                    media: None,
                },
                Attachment {
                    id: "m1".into(),
                    media: Some(item(MediaStatus::Ready, true)),
                },
            ],
            reply_to: None,
            client_id: "c".into(),
            ts: 5,
            edited_at: None,
            deleted: false,
            reactions: Default::default(),
            mentions: vec![],
            quote: None,
            forwarded: false,
        };
        let out = message(m, &urls);
        assert_eq!(out.from, UserId::from("ann"));
        assert_eq!(out.attachments[0], serde_json::json!({ "id": "gone" }));
        assert_eq!(out.attachments[1]["id"], "m1");
        assert_eq!(out.attachments[1]["status"], "ready");
        assert!(out.attachments[1]["thumb_url"].is_string());
    }
}
