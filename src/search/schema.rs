//! The index's fields, and a message as one index document.

use entities::message;
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::TantivyDocument;

use crate::store::NewMessage;

/// Bumped whenever the fields or the tokenizers change: an index written under another version
/// is rebuilt from SQL at start.
pub const SCHEMA_VERSION: u32 = 1;

/// Name of the tokenizer of `body` (see `tokenize::ChatTokenizer`).
pub const BODY_TOKENIZER: &str = "chat";
/// Name of the tokenizer of `chars` (see `tokenize::UnigramTokenizer`).
pub const CHARS_TOKENIZER: &str = "chat_chars";

/// The fields of the index.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// Message id (exact, for updates and lookups).
    pub id: Field,
    /// Room id (exact, for the caller's-rooms filter).
    pub room: Field,
    /// The text: words and bigrams with positions (phrases), stored for re-indexing edits.
    pub body: Field,
    /// Each character of unspaced scripts (one-character queries).
    pub chars: Field,
    /// Sent at (ms), a fast field for `sort=newest`.
    pub ts: Field,
    pub seq: Field,
    pub sender: Field,
    pub client_id: Field,
    pub reply_to: Field,
    /// JSON array of media ids.
    pub attachments: Field,
    pub edited_at: Field,
}

impl Fields {
    /// The schema and its fields.
    pub fn schema() -> (Schema, Fields) {
        let mut b = Schema::builder();
        let body_options = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(BODY_TOKENIZER)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored();
        let chars_options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(CHARS_TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = Fields {
            id: b.add_text_field("id", STRING | STORED),
            room: b.add_text_field("room", STRING | STORED),
            body: b.add_text_field("body", body_options),
            chars: b.add_text_field("chars", chars_options),
            ts: b.add_i64_field("ts", INDEXED | FAST | STORED),
            seq: b.add_i64_field("seq", STORED),
            sender: b.add_text_field("sender", STORED),
            client_id: b.add_text_field("client_id", STORED),
            reply_to: b.add_text_field("reply_to", STORED),
            attachments: b.add_text_field("attachments", STORED),
            edited_at: b.add_i64_field("edited_at", STORED),
        };
        (b.build(), fields)
    }
}

/// A message as the index keeps it (everything a search result needs when the message is still
/// only in the Redis buffer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedMessage {
    pub id: String,
    pub room: String,
    pub seq: i64,
    pub sender: String,
    pub client_id: String,
    pub body: String,
    /// JSON array of media ids, or `None`.
    pub attachments: Option<String>,
    pub reply_to: Option<String>,
    pub ts: i64,
    pub edited_at: Option<i64>,
}

impl From<&NewMessage> for IndexedMessage {
    fn from(m: &NewMessage) -> Self {
        Self {
            id: m.id.0.clone(),
            room: m.room.0.clone(),
            seq: m.seq,
            sender: m.sender.0.clone(),
            client_id: m.client_id.clone(),
            body: m.body.clone(),
            attachments: (!m.attachments.is_empty())
                .then(|| serde_json::to_string(&m.attachments).unwrap_or_else(|_| "[]".into())),
            reply_to: m.reply_to.as_ref().map(|r| r.0.clone()),
            ts: m.ts,
            edited_at: None,
        }
    }
}

impl From<message::Model> for IndexedMessage {
    fn from(m: message::Model) -> Self {
        Self {
            id: m.id,
            room: m.room_id,
            seq: m.seq,
            sender: m.sender_id,
            client_id: m.client_id,
            body: m.body,
            attachments: m.attachments,
            reply_to: m.reply_to,
            ts: m.created_at,
            edited_at: m.edited_at,
        }
    }
}

impl IndexedMessage {
    /// The stored row it stands for (not deleted).
    pub fn into_model(self) -> message::Model {
        message::Model {
            id: self.id,
            room_id: self.room,
            seq: self.seq,
            sender_id: self.sender,
            client_id: self.client_id,
            body: self.body,
            attachments: self.attachments,
            reply_to: self.reply_to,
            created_at: self.ts,
            edited_at: self.edited_at,
            deleted: false,
            // Not indexed; search results carry none.
            mentions: None,
            forwarded: false,
        }
    }

    /// Its index document.
    pub fn to_doc(&self, f: &Fields) -> TantivyDocument {
        let mut d = TantivyDocument::default();
        d.add_text(f.id, &self.id);
        d.add_text(f.room, &self.room);
        d.add_text(f.body, &self.body);
        if !self.body.is_ascii() {
            // Only characters of unspaced scripts go into `chars`, and none is ASCII.
            d.add_text(f.chars, &self.body);
        }
        d.add_i64(f.ts, self.ts);
        d.add_i64(f.seq, self.seq);
        d.add_text(f.sender, &self.sender);
        d.add_text(f.client_id, &self.client_id);
        if let Some(r) = &self.reply_to {
            d.add_text(f.reply_to, r);
        }
        if let Some(a) = &self.attachments {
            d.add_text(f.attachments, a);
        }
        if let Some(e) = self.edited_at {
            d.add_i64(f.edited_at, e);
        }
        d
    }

    /// Reads a stored document back; `None` if it lacks the id, room or ts.
    pub fn from_doc(d: &TantivyDocument, f: &Fields) -> Option<Self> {
        let text = |field| {
            d.get_first(field)
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        let int = |field| d.get_first(field).and_then(|v| v.as_i64());
        Some(Self {
            id: text(f.id)?,
            room: text(f.room)?,
            seq: int(f.seq).unwrap_or(0),
            sender: text(f.sender).unwrap_or_default(),
            client_id: text(f.client_id).unwrap_or_default(),
            body: text(f.body).unwrap_or_default(),
            attachments: text(f.attachments),
            reply_to: text(f.reply_to),
            ts: int(f.ts)?,
            edited_at: int(f.edited_at),
        })
    }
}
