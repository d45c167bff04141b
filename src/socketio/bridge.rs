//! The mapping between Socket.IO events and protocol v1 frames, for one socket.
//!
//! A client event `[name, object]` becomes the v1 client frame `{type: name, ...object}`. When
//! the client asked for an acknowledgement, the frame carries a `ref` chosen here, and the v1
//! answer that echoes it (`ack`, `ack_many`, `history`, `synced`, `pong`, `reaction`, `pinned`, `starred`, `forwarded`, or an `error`) goes back
//! as the acknowledgement: the frame's object, or `{error: {code, message, client_id?}}`. Every
//! other server frame becomes the event named after its `type`, with the frame as its object.

use std::collections::{HashMap, VecDeque};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::packet::socket_out;

/// Acknowledgements waited on at once per socket; beyond it the oldest is forgotten (frames like
/// `typing` and `read` answer only when they fail, so their entries would otherwise stay).
const MAX_PENDING: usize = 1024;

/// One acknowledgement the client waits on.
struct Pending {
    id: u64,
    /// The `ref` the client put in its object itself, given back in the answer.
    client_ref: Option<Value>,
    /// The frame's type (a `sync` answers refused rooms with errors before its `synced`).
    kind: String,
}

/// The acknowledgement state of one Socket.IO socket.
pub struct Bridge {
    /// Prefix of the refs chosen here, unique to this socket.
    prefix: String,
    next: u64,
    pending: HashMap<String, Pending>,
    order: VecDeque<String>,
}

/// The `type` and `ref` of a server frame, read without building the whole object.
#[derive(Deserialize)]
struct Peek {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "ref", default)]
    reference: Option<String>,
}

/// A client event turned into a v1 frame, or the error to answer it with.
pub enum Inbound {
    /// The v1 client frame (JSON) for the session.
    Frame(String),
    /// Nothing for the session: this Engine.IO packet answers the client directly.
    Answer(String),
}

impl Bridge {
    pub fn new(prefix: String) -> Self {
        Self {
            prefix,
            next: 0,
            pending: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Turns the data of an EVENT (`[name, object?]`) with acknowledgement `ack` into a v1 frame.
    pub fn inbound(&mut self, data: Option<Value>, ack: Option<u64>) -> Inbound {
        let mut args = match data {
            Some(Value::Array(args)) if !args.is_empty() => args.into_iter(),
            _ => return self.refuse(ack, "bad_frame", "an event is [name, object]"),
        };
        let Some(Value::String(name)) = args.next() else {
            return self.refuse(ack, "bad_frame", "an event name must be a string");
        };
        let mut object = match args.next() {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(o)) => o,
            Some(_) => {
                return self.refuse(ack, "bad_frame", "an event's argument must be an object")
            }
        };
        object.insert("type".into(), Value::String(name.clone()));
        if let Some(id) = ack {
            let reference = format!("{}{}", self.prefix, self.next);
            self.next += 1;
            let client_ref = object.insert("ref".into(), Value::String(reference.clone()));
            self.remember(
                reference,
                Pending {
                    id,
                    client_ref,
                    kind: name,
                },
            );
        }
        Inbound::Frame(Value::Object(object).to_string())
    }

    /// Answers an event that cannot become a frame: through its acknowledgement, or else as an
    /// `error` event.
    pub fn refuse(&self, ack: Option<u64>, code: &str, message: &str) -> Inbound {
        let error = serde_json::json!({ "code": code, "message": message });
        Inbound::Answer(match ack {
            Some(id) => socket_out::ack(id, &serde_json::json!({ "error": error })),
            None => {
                let mut frame = error;
                frame["type"] = Value::String("error".into());
                socket_out::event("error", &frame.to_string())
            }
        })
    }

    fn remember(&mut self, reference: String, pending: Pending) {
        if self.order.len() >= MAX_PENDING {
            if let Some(old) = self.order.pop_front() {
                self.pending.remove(&old);
            }
        }
        self.order.push_back(reference.clone());
        self.pending.insert(reference, pending);
    }

    /// Turns a v1 server frame (JSON) into the Engine.IO packet for the client.
    pub fn outbound(&mut self, json: &str) -> Option<String> {
        let peek: Peek = match serde_json::from_str(json) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "a session frame without a type");
                return None;
            }
        };
        let Some(pending) = peek.reference.as_ref().and_then(|r| self.pending.get(r)) else {
            return Some(socket_out::event(&peek.kind, json));
        };
        let mut frame: Map<String, Value> = serde_json::from_str(json).ok()?;
        frame.remove("ref");
        if let Some(r) = &pending.client_ref {
            frame.insert("ref".into(), r.clone());
        }
        let refused_room = pending.kind == "sync"
            && peek.kind == "error"
            && frame.get("code") == Some(&Value::from("not_member"));
        if refused_room {
            return Some(socket_out::event(
                "error",
                &Value::Object(frame).to_string(),
            ));
        }
        let id = pending.id;
        if let Some(r) = &peek.reference {
            self.pending.remove(r);
            self.order.retain(|o| o != r);
        }
        let arg = if peek.kind == "error" {
            frame.remove("type");
            serde_json::json!({ "error": frame })
        } else {
            Value::Object(frame)
        };
        Some(socket_out::ack(id, &arg))
    }
}

#[cfg(test)]
// A panic is how a test fails: the workspace's unwrap lint is for the server code.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_event_with_an_ack_is_answered_by_the_frame_that_echoes_its_ref() {
        let mut b = Bridge::new("r-".into());
        let Inbound::Frame(f) = b.inbound(
            Some(serde_json::json!(["send", {"room": "x", "ref": "mine"}])),
            Some(7),
        ) else {
            panic!("not a frame");
        };
        let f: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(
            (f["type"].as_str(), f["ref"].as_str()),
            (Some("send"), Some("r-0"))
        );
        let ack = b.outbound(r#"{"type":"ack","ref":"r-0","seq":1}"#).unwrap();
        assert_eq!(ack, r#"437[{"ref":"mine","seq":1,"type":"ack"}]"#);
        // Answered once; a later frame with that ref is an event.
        assert!(b
            .outbound(r#"{"type":"pong","ref":"r-0"}"#)
            .unwrap()
            .starts_with("42[\"pong\""));
    }

    #[test]
    fn errors_come_back_as_error_objects() {
        let mut b = Bridge::new("r-".into());
        b.inbound(Some(serde_json::json!(["history", {"room": "x"}])), Some(1));
        let ack = b
            .outbound(r#"{"type":"error","code":"not_member","message":"no","ref":"r-0"}"#)
            .unwrap();
        let arg: Value = serde_json::from_str(ack.strip_prefix("431").unwrap()).unwrap();
        assert_eq!(arg[0]["error"]["code"], "not_member");
        assert!(
            matches!(b.inbound(Some(serde_json::json!([1])), Some(2)), Inbound::Answer(a) if a.starts_with("432["))
        );
    }
}
