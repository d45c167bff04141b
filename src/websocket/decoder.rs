//! Client bytes to whole messages, with no socket: the frame reader's rules in one place (RFC 6455
//! sections 5 and 7). Fragments are put back together, text is checked to be UTF-8 as it arrives
//! (a bad byte fails the connection before the rest of the message is read), control frames may
//! come between fragments, close codes are checked, and nothing is read after a close frame.

use bytes::{Buf, Bytes, BytesMut};

use super::frame::{self, FrameError};
use super::utf8::Utf8Stream;
use crate::protocol::close;

/// A whole message or a control frame from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InFrame {
    /// A text message (checked to be UTF-8).
    Text(Bytes),
    Binary(Bytes),
    Ping(Bytes),
    Pong,
    /// The client closes, with its code (a valid one, see [`close_code_is_valid`]) and reason if
    /// it gave them.
    Close(Option<(u16, String)>),
}

/// Why reading a connection ended early.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("{0}")]
    Protocol(&'static str),
    #[error("message too large")]
    TooLarge,
    #[error("text is not UTF-8")]
    BadUtf8,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl WsError {
    /// The close code to send for this error; none when the connection itself failed.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Self::Protocol(_) => Some(close::PROTOCOL_ERROR),
            Self::TooLarge => Some(close::TOO_BIG),
            Self::BadUtf8 => Some(close::INVALID_PAYLOAD),
            Self::Io(_) => None,
        }
    }
}

impl From<FrameError> for WsError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Protocol(why) => Self::Protocol(why),
            FrameError::TooLarge => Self::TooLarge,
        }
    }
}

/// Whether a client may send `code` in a close frame (RFC 6455 section 7.4 and the IANA
/// registry): 1004 is reserved, 1005, 1006 and 1015 only ever stand for "no frame", and codes
/// below 1000 or in 1016..=2999 are not assigned. 3000..=4999 belong to libraries and
/// applications.
pub fn close_code_is_valid(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A fragmented message being put back together.
#[derive(Debug)]
struct Partial {
    opcode: u8,
    data: BytesMut,
}

/// Turns client bytes into [`InFrame`]s; see the module doc.
#[derive(Debug)]
pub struct Decoder {
    /// Bytes of frames not complete yet (empty, with no allocation, between messages).
    buf: BytesMut,
    partial: Option<Partial>,
    /// The text message being read, checked so far.
    utf8: Utf8Stream,
    /// Payload bytes of the (incomplete) text frame at the front of `buf` that are already
    /// unmasked and checked.
    checked: usize,
    max: usize,
    /// A close frame or an error was read: nothing after it is.
    done: bool,
}

impl Decoder {
    /// A decoder for messages of at most `max` bytes (larger ones are [`WsError::TooLarge`]).
    pub fn new(max: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            partial: None,
            utf8: Utf8Stream::default(),
            checked: 0,
            max,
            done: false,
        }
    }

    /// Adds bytes read from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.done {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Whether the decoder is finished (after a close frame or an error).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next whole message or control frame in what was fed, `Ok(None)` until one is whole.
    /// After an error or a close frame it gives `Ok(None)` for ever.
    pub fn next_frame(&mut self) -> Result<Option<InFrame>, WsError> {
        if self.done {
            return Ok(None);
        }
        let next = self.parse();
        match &next {
            Err(_) | Ok(Some(InFrame::Close(_))) => {
                self.done = true;
                self.buf = BytesMut::new();
                self.partial = None;
            }
            Ok(Some(_)) if self.buf.is_empty() => {
                // Let go of the read buffer between messages.
                self.buf = BytesMut::new();
            }
            Ok(_) => {}
        }
        next
    }

    fn parse(&mut self) -> Result<Option<InFrame>, WsError> {
        loop {
            let Some(head) = frame::parse_head(&self.buf, self.max)? else {
                return Ok(None);
            };
            // Refuse what the header alone shows to be wrong before waiting for the payload.
            let text = match (head.opcode, &self.partial) {
                (frame::OP_TEXT | frame::OP_BINARY, Some(_)) => {
                    return Err(WsError::Protocol("a new message inside a fragmented one"))
                }
                (frame::OP_CONTINUATION, None) => {
                    return Err(WsError::Protocol("continuation without a first frame"))
                }
                (frame::OP_CONTINUATION, Some(p)) => {
                    if p.data.len() + head.len > self.max {
                        return Err(WsError::TooLarge);
                    }
                    p.opcode == frame::OP_TEXT
                }
                (op, _) => op == frame::OP_TEXT,
            };
            if head.opcode == frame::OP_TEXT && self.checked == 0 {
                self.utf8 = Utf8Stream::default();
            }
            let arrived = (self.buf.len() - head.head_len).min(head.len);
            if text && arrived > self.checked {
                let new = &mut self.buf[head.head_len + self.checked..head.head_len + arrived];
                frame::unmask_at(new, head.mask, self.checked);
                self.utf8.push(new).map_err(|_| WsError::BadUtf8)?;
                self.checked = arrived;
            }
            if arrived < head.len {
                return Ok(None);
            }
            self.buf.advance(head.head_len);
            let mut payload = self.buf.split_to(head.len);
            if !text {
                frame::unmask(&mut payload, head.mask);
            }
            self.checked = 0;
            match head.opcode {
                frame::OP_TEXT | frame::OP_BINARY if head.fin => {
                    return self.message(head.opcode, payload.freeze()).map(Some)
                }
                op @ (frame::OP_TEXT | frame::OP_BINARY) => {
                    self.partial = Some(Partial {
                        opcode: op,
                        data: payload,
                    })
                }
                frame::OP_CONTINUATION => {
                    if let Some(p) = self.partial.as_mut() {
                        p.data.extend_from_slice(&payload);
                    }
                    if head.fin {
                        if let Some(p) = self.partial.take() {
                            return self.message(p.opcode, p.data.freeze()).map(Some);
                        }
                    }
                }
                frame::OP_PING => return Ok(Some(InFrame::Ping(payload.freeze()))),
                frame::OP_PONG => return Ok(Some(InFrame::Pong)),
                _ => return close_frame(&payload).map(Some),
            }
        }
    }

    fn message(&self, opcode: u8, data: Bytes) -> Result<InFrame, WsError> {
        if opcode == frame::OP_BINARY {
            return Ok(InFrame::Binary(data));
        }
        if !self.utf8.is_complete() {
            return Err(WsError::BadUtf8);
        }
        Ok(InFrame::Text(data))
    }
}

fn close_frame(payload: &[u8]) -> Result<InFrame, WsError> {
    match payload {
        [] => Ok(InFrame::Close(None)),
        [_] => Err(WsError::Protocol("a close frame with a one-byte payload")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !close_code_is_valid(code) {
                return Err(WsError::Protocol("invalid close code"));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| WsError::BadUtf8)?;
            Ok(InFrame::Close(Some((code, reason.to_owned()))))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [9, 8, 7, 6];
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    /// Feeds `bytes` one at a time and collects what comes out, up to the first error.
    fn decode_bytewise(bytes: &[u8], max: usize) -> Result<Vec<InFrame>, (WsError, usize)> {
        let mut d = Decoder::new(max);
        let mut out = Vec::new();
        for (i, b) in bytes.iter().enumerate() {
            d.feed(&[*b]);
            loop {
                match d.next_frame() {
                    Ok(Some(f)) => out.push(f),
                    Ok(None) => break,
                    Err(e) => return Err((e, i)),
                }
            }
        }
        Ok(out)
    }

    #[test]
    fn fragments_with_control_frames_between_them() {
        let bytes = [
            masked(false, frame::OP_TEXT, "κό".as_bytes()),
            masked(true, frame::OP_PING, b"p"),
            masked(false, frame::OP_CONTINUATION, &"σμε".as_bytes()[..3]),
            masked(true, frame::OP_CONTINUATION, &"σμε".as_bytes()[3..]),
            masked(true, frame::OP_BINARY, &[1, 2]),
            masked(true, frame::OP_CLOSE, &[0x03, 0xE8, b'b', b'y', b'e']),
            masked(true, frame::OP_TEXT, b"after the close"),
        ]
        .concat();
        let frames = decode_bytewise(&bytes, 1024).unwrap();
        assert_eq!(
            frames,
            [
                InFrame::Ping(Bytes::from_static(b"p")),
                InFrame::Text(Bytes::from("κόσμε")),
                InFrame::Binary(Bytes::from_static(&[1, 2])),
                InFrame::Close(Some((1000, "bye".into()))),
            ]
        );
    }

    #[test]
    fn bad_text_fails_before_the_rest_arrives() {
        let first = masked(false, frame::OP_TEXT, b"ok");
        let bad = masked(true, frame::OP_CONTINUATION, &[b'a', 0xFF, b'b', b'c']);
        let bytes = [first.clone(), bad].concat();
        let (err, at) = decode_bytewise(&bytes, 1024).unwrap_err();
        assert_eq!(err.close_code(), Some(1007));
        // The 0xFF is the second payload byte of the second frame (2 + 4 bytes of header).
        assert_eq!(at, first.len() + 6 + 1);
        // A text message cut in the middle of a character at its end is not UTF-8 either.
        let cut = masked(true, frame::OP_TEXT, &"é".as_bytes()[..1]);
        let (err, _) = decode_bytewise(&cut, 1024).unwrap_err();
        assert_eq!(err.close_code(), Some(1007));
    }

    #[test]
    fn protocol_errors_and_their_close_codes() {
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (masked(true, frame::OP_TEXT, &[0xFF, 0xFE]), 1007),
            (masked(true, frame::OP_CONTINUATION, b"x"), 1002),
            (
                [
                    masked(false, frame::OP_TEXT, b"a"),
                    masked(true, frame::OP_BINARY, b"b"),
                ]
                .concat(),
                1002,
            ),
            (
                [
                    masked(false, frame::OP_TEXT, &[b'a'; 100]),
                    masked(true, frame::OP_CONTINUATION, &[b'a'; 100]),
                ]
                .concat(),
                1009,
            ),
            (masked(true, frame::OP_CLOSE, &[3]), 1002),
            (masked(true, frame::OP_CLOSE, &[3, 0xE8, 0xFF]), 1007),
        ];
        for (bytes, code) in cases {
            let (err, _) = decode_bytewise(&bytes, 150).unwrap_err();
            assert_eq!(err.close_code(), Some(code), "{err}");
        }
    }

    #[test]
    fn close_codes_that_may_not_be_sent_are_protocol_errors() {
        for code in [
            0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
        ] {
            let bytes = masked(true, frame::OP_CLOSE, &code.to_be_bytes());
            let (err, _) = decode_bytewise(&bytes, 150).unwrap_err();
            assert_eq!(err.close_code(), Some(1002), "code {code}");
        }
        for code in [
            1000u16, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 3999, 4000, 4999,
        ] {
            let bytes = masked(true, frame::OP_CLOSE, &code.to_be_bytes());
            let frames = decode_bytewise(&bytes, 150).unwrap();
            assert_eq!(frames, [InFrame::Close(Some((code, String::new())))]);
        }
    }

    #[test]
    fn nothing_is_read_after_an_error() {
        let mut d = Decoder::new(100);
        d.feed(&masked(true, frame::OP_CONTINUATION, b"x"));
        assert!(d.next_frame().is_err());
        d.feed(&masked(true, frame::OP_TEXT, b"x"));
        assert!(d.next_frame().unwrap().is_none());
        assert!(d.is_done());
    }
}
