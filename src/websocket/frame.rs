//! RFC 6455 framing: headers for what the server writes (final, unmasked frames) and parsing of
//! what clients send (masked, possibly fragmented).

use bytes::{Bytes, BytesMut};

pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// The longest header a server frame has (2 bytes + a 64-bit length).
pub const MAX_HEADER: usize = 10;

/// Writes the header of a final, unmasked frame of `len` payload bytes at the end of `out`
/// (which must hold at least [`MAX_HEADER`] bytes) and returns how many bytes it takes: the
/// header is `out[MAX_HEADER - n..]`, so a payload can follow it without a copy.
pub fn header_into(opcode: u8, len: usize, out: &mut [u8; MAX_HEADER]) -> usize {
    let first = 0x80 | (opcode & 0x0F);
    if len < 126 {
        out[8] = first;
        out[9] = len as u8;
        2
    } else if len <= u16::MAX as usize {
        out[6] = first;
        out[7] = 126;
        out[8..].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        out[0] = first;
        out[1] = 127;
        out[2..].copy_from_slice(&(len as u64).to_be_bytes());
        10
    }
}

/// A whole server frame: header and payload in one buffer.
pub fn encode(opcode: u8, payload: &[u8]) -> Bytes {
    let mut head = [0u8; MAX_HEADER];
    let n = header_into(opcode, payload.len(), &mut head);
    let mut out = BytesMut::with_capacity(n + payload.len());
    out.extend_from_slice(&head[MAX_HEADER - n..]);
    out.extend_from_slice(payload);
    out.freeze()
}

/// A close frame with `code` and `reason` (cut to the 123 bytes a control frame leaves, at a
/// character boundary).
pub fn close(code: u16, reason: &str) -> Bytes {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = Vec::with_capacity(2 + end);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    encode(OP_CLOSE, &payload)
}

/// Why a client's bytes are not a valid frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A protocol violation (close code 1002).
    Protocol(&'static str),
    /// A frame or message above the size limit (close code 1009).
    TooLarge,
}

/// A parsed client frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub fin: bool,
    pub opcode: u8,
    pub mask: [u8; 4],
    /// Payload length.
    pub len: usize,
    /// Header length (payload starts here).
    pub head_len: usize,
}

/// Parses the client frame header at the start of `buf`: `Ok(None)` while it is incomplete.
/// Payloads above `max` bytes are refused before they are read.
pub fn parse_head(buf: &[u8], max: usize) -> Result<Option<Head>, FrameError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    if b0 & 0x70 != 0 {
        return Err(FrameError::Protocol("reserved bits set"));
    }
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0F;
    if !matches!(
        opcode,
        OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
    ) {
        return Err(FrameError::Protocol("unknown opcode"));
    }
    if b1 & 0x80 == 0 {
        return Err(FrameError::Protocol("client frames must be masked"));
    }
    let short = (b1 & 0x7F) as usize;
    if opcode >= OP_CLOSE && (!fin || short > 125) {
        return Err(FrameError::Protocol("invalid control frame"));
    }
    let (len, at) = match short {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            (u16::from_be_bytes([b[0], b[1]]) as u64, 4)
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut raw = [0u8; 8];
            raw.copy_from_slice(b);
            (u64::from_be_bytes(raw), 10)
        }
        n => (n as u64, 2),
    };
    if len > max as u64 {
        return Err(FrameError::TooLarge);
    }
    let Some(m) = buf.get(at..at + 4) else {
        return Ok(None);
    };
    Ok(Some(Head {
        fin,
        opcode,
        mask: [m[0], m[1], m[2], m[3]],
        len: len as usize,
        head_len: at + 4,
    }))
}

/// Removes a client's mask from the part of a payload that starts `offset` bytes into it.
pub fn unmask_at(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let r = offset % 4;
    let rotated = [
        mask[r],
        mask[(r + 1) % 4],
        mask[(r + 2) % 4],
        mask[(r + 3) % 4],
    ];
    unmask(data, rotated);
}

/// Removes a client's mask from a whole payload.
pub fn unmask(data: &mut [u8], mask: [u8; 4]) {
    let word = u32::from_ne_bytes(mask);
    let mut chunks = data.chunks_exact_mut(4);
    for c in &mut chunks {
        let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ word;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i];
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[test]
    fn headers_use_the_shortest_length_form() {
        for (len, n) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
            let f = encode(OP_TEXT, &vec![b'x'; len]);
            assert_eq!(f.len(), n + len, "len {len}");
            assert_eq!(f[0], 0x81);
        }
        assert_eq!(&encode(OP_TEXT, b"hi")[..], &[0x81, 2, b'h', b'i']);
        assert_eq!(&encode(OP_TEXT, &[0; 300])[..4], &[0x81, 126, 1, 44]);
    }

    #[test]
    fn close_reasons_are_cut_at_a_character_boundary() {
        let f = close(4008, &"é".repeat(100));
        assert_eq!(f[1] as usize, f.len() - 2);
        assert!(f.len() - 2 <= 125);
        assert!(std::str::from_utf8(&f[4..]).is_ok());
    }

    #[test]
    fn client_frames_parse_and_unmask() {
        for len in [0, 5, 125, 126, 1000, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let raw = client_frame(true, OP_BINARY, &payload);
            for cut in [0, 1, raw.len().min(3), raw.len().min(9)] {
                if cut < raw.len() - len {
                    assert_eq!(
                        parse_head(&raw[..cut], 1 << 20),
                        Ok(None),
                        "len {len} cut {cut}"
                    );
                }
            }
            let head = parse_head(&raw, 1 << 20).unwrap().unwrap();
            assert_eq!((head.fin, head.opcode, head.len), (true, OP_BINARY, len));
            let mut body = raw[head.head_len..].to_vec();
            unmask(&mut body, head.mask);
            assert_eq!(body, payload);
        }
    }

    #[test]
    fn unmasking_in_pieces_matches_unmasking_at_once() {
        let mask = [0x11, 0x22, 0x33, 0x44];
        let mut whole: Vec<u8> = (0..37).collect();
        let mut pieces = whole.clone();
        unmask(&mut whole, mask);
        let (mut at, mut step) = (0, 1);
        while at < pieces.len() {
            let end = (at + step).min(pieces.len());
            unmask_at(&mut pieces[at..end], mask, at);
            at = end;
            step += 2;
        }
        assert_eq!(pieces, whole);
    }

    #[test]
    fn bad_frames_are_refused() {
        let mut unmasked = client_frame(true, OP_TEXT, b"x");
        unmasked[1] &= 0x7F;
        assert!(matches!(
            parse_head(&unmasked, 100),
            Err(FrameError::Protocol(_))
        ));
        let mut rsv = client_frame(true, OP_TEXT, b"x");
        rsv[0] |= 0x40;
        assert!(matches!(
            parse_head(&rsv, 100),
            Err(FrameError::Protocol(_))
        ));
        assert!(matches!(
            parse_head(&client_frame(true, 0x3, b""), 100),
            Err(FrameError::Protocol(_))
        ));
        assert!(matches!(
            parse_head(&client_frame(false, OP_PING, b""), 100),
            Err(FrameError::Protocol(_))
        ));
        assert_eq!(
            parse_head(&client_frame(true, OP_TEXT, &[0; 101]), 100),
            Err(FrameError::TooLarge)
        );
    }
}
