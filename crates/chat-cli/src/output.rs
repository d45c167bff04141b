//! What the program prints: one line per item, untrusted text kept on one line.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;

use anyhow::{Context, Result};
use chat_protocol::api::rooms::MemberOut;
use chat_protocol::{Hello, MessageOut, ServerFrame, TypingState, UserId};

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// Writes one line of the program's output to stdout.
pub(crate) fn emit(line: impl fmt::Display) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("writing to stdout")?;
    out.flush().context("writing to stdout")
}

pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub(crate) fn format_line(room: &str, seq: i64, from: &str, text: &str) -> String {
    format!("[{room} {seq}] {from}: {text}")
}

pub(crate) fn message_line(message: &MessageOut, names: &Names) -> String {
    format_line(
        message.room.as_str(),
        message.seq,
        &names.label_id(message.from.as_str()),
        &message_text(message),
    )
}

/// The body on one line, with markers for edits, deletion and attachments.
pub(crate) fn message_text(message: &MessageOut) -> String {
    if message.deleted {
        return "(deleted)".to_owned();
    }
    let mut text = one_line(&message.body);
    if message.edited_at.is_some() {
        text.push_str(" (edited)");
    }
    match message.attachments.len() {
        0 => {}
        1 => text.push_str(" [1 attachment]"),
        n => text.push_str(&format!(" [{n} attachments]")),
    }
    text
}

/// One line for the events `listen` shows; `None` for frames it does not print.
pub(crate) fn event_line(frame: &ServerFrame, names: &Names) -> Option<String> {
    let line = match frame {
        ServerFrame::Message(message) => message_line(message, names),
        ServerFrame::Typing(t) => {
            let what = match t.state {
                TypingState::Start => "is typing",
                TypingState::Stop => "stopped typing",
            };
            format!("[{}] {} {what}", t.room, names.label(&t.user))
        }
        ServerFrame::Presence(p) => {
            let what = if p.online { "online" } else { "offline" };
            format!("* {} is {what}", names.label(&p.user))
        }
        ServerFrame::RoomEvent(e) => {
            let event = serde_json::to_value(e.event)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            format!(
                "[{}] room event: {}",
                e.room,
                event.as_deref().unwrap_or("?")
            )
        }
        ServerFrame::Edited(e) => {
            format!(
                "[{}] message {} edited: {}",
                e.room,
                e.id,
                one_line(&e.body)
            )
        }
        ServerFrame::Deleted(d) => format!("[{}] message {} deleted", d.room, d.id),
        _ => return None,
    };
    Some(line)
}

/// Keeps untrusted text on one line and free of terminal control sequences.
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => {}
            '\t' => out.push(' '),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// User id → username, learned from `hello` and room member lists.
#[derive(Debug, Default)]
pub(crate) struct Names(HashMap<String, String>);

impl Names {
    pub(crate) fn from_hello(hello: &Hello) -> Self {
        let mut names = Self::default();
        names.learn(hello.user.id.as_str(), &hello.user.username);
        names
    }

    pub(crate) fn learn(&mut self, id: &str, username: &str) {
        self.0.insert(id.to_owned(), username.to_owned());
    }

    /// Members listed by `GET /api/rooms/{id}`.
    pub(crate) fn learn_all(&mut self, members: &[MemberOut]) {
        for member in members {
            self.learn(member.id.as_str(), &member.username);
        }
    }

    pub(crate) fn label_id(&self, id: &str) -> String {
        one_line(self.0.get(id).map_or(id, String::as_str))
    }

    /// A user named in a frame.
    pub(crate) fn label(&self, who: &UserId) -> String {
        self.label_id(who.as_str())
    }
}
