//! A message on its way into a room: the client's `send` frame and what the server checked about
//! it before the room takes it. None of the checked part comes from the wire, so it lives here
//! and not in the wire type.

use crate::ids::UserId;
use crate::protocol::{MediaOut, Quote, SendFrame};

/// A `send` and its checks. The session fills the checks in (each may need a lookup) before it
/// hands the draft to the room; messages the server composes itself (`send_many`, forwards) are
/// checked when built ([`Draft::checked`]).
#[derive(Clone, Debug)]
pub struct Draft {
    pub frame: SendFrame,
    /// The attachments as checked (ready, the sender's own), in the frame's order; `None` until
    /// checked.
    pub media: Option<Vec<MediaOut>>,
    /// Whether `reply_to` was found to name a message of the room (true when there is none).
    pub reply_checked: bool,
    /// The short quote of `reply_to` the message frame carries; set with `reply_checked`.
    pub quote: Option<Quote>,
    /// Users named as `@username` in the body (the room keeps its members among them); `None`
    /// until looked up.
    pub named: Option<Vec<UserId>>,
    /// A forward (see `ForwardFrame`).
    pub forwarded: bool,
}

/// The next check a draft needs before the room may take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Reply,
    Attachments,
    Mentions,
}

impl Draft {
    /// A client's `send` with nothing checked yet; what needs no lookup (no attachments, no
    /// reply, no `@` in the body) counts as checked.
    pub fn new(frame: SendFrame) -> Self {
        Self {
            media: frame.attachments.is_empty().then(Vec::new),
            reply_checked: frame.reply_to.is_none(),
            quote: None,
            named: (!frame.body.contains('@')).then(Vec::new),
            forwarded: false,
            frame,
        }
    }

    /// A message the server composed, every check done.
    pub fn checked(
        frame: SendFrame,
        media: Vec<MediaOut>,
        quote: Option<Quote>,
        named: Vec<UserId>,
        forwarded: bool,
    ) -> Self {
        Self {
            frame,
            media: Some(media),
            reply_checked: true,
            quote,
            named: Some(named),
            forwarded,
        }
    }

    /// The first check still to do, in the order the session runs them; `None` when ready.
    pub fn next_check(&self) -> Option<Check> {
        if !self.reply_checked {
            Some(Check::Reply)
        } else if self.media.is_none() {
            Some(Check::Attachments)
        } else if self.named.is_none() {
            Some(Check::Mentions)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> SendFrame {
        SendFrame::new("r1".into(), "c1".into(), body.into())
    }

    #[test]
    fn a_plain_message_needs_no_check_and_each_feature_adds_its_own() {
        assert_eq!(Draft::new(frame("hi")).next_check(), None);
        let mut f = frame("hi @ann");
        assert_eq!(Draft::new(f.clone()).next_check(), Some(Check::Mentions));
        f.attachments = vec!["m1".into()];
        assert_eq!(Draft::new(f.clone()).next_check(), Some(Check::Attachments));
        f.reply_to = Some("m0".into());
        let mut d = Draft::new(f);
        assert_eq!(d.next_check(), Some(Check::Reply));
        d.reply_checked = true;
        d.media = Some(Vec::new());
        d.named = Some(Vec::new());
        assert_eq!(d.next_check(), None);
    }
}
