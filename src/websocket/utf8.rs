//! UTF-8 checked piece by piece, for text messages that arrive in fragments or in several reads:
//! a bad byte is seen as soon as it arrives, not once the whole message is in.

/// The state between pieces: the bytes of a character cut at the end of the last piece.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Stream {
    carry: [u8; 4],
    carry_len: usize,
}

/// The bytes are not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Stream {
    /// Checks the next piece: an error as soon as no continuation could make it UTF-8.
    pub fn push(&mut self, mut data: &[u8]) -> Result<(), InvalidUtf8> {
        if self.carry_len > 0 {
            // Complete the cut character with the first bytes of this piece (at most 4 in all).
            let take = (4 - self.carry_len).min(data.len());
            let mut joined = self.carry;
            joined[self.carry_len..self.carry_len + take].copy_from_slice(&data[..take]);
            let n = self.carry_len + take;
            match std::str::from_utf8(&joined[..n]) {
                Ok(_) => {
                    self.carry_len = 0;
                    data = &data[take..];
                }
                Err(e) if e.valid_up_to() > 0 => {
                    // The cut character is whole and valid; the rest of `data` is checked below.
                    data = &data[e.valid_up_to() - self.carry_len..];
                    self.carry_len = 0;
                }
                Err(e) if e.error_len().is_none() => {
                    // Still cut: `data` was too short to finish it.
                    self.carry = joined;
                    self.carry_len = n;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match std::str::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let rest = &data[e.valid_up_to()..];
                self.carry[..rest.len()].copy_from_slice(rest);
                self.carry_len = rest.len();
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Whether everything pushed so far ends on a whole character (the message may end here).
    pub fn is_complete(&self) -> bool {
        self.carry_len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `data` cut at every pair of places; the verdict must match `str::from_utf8`.
    fn agrees(data: &[u8]) {
        let whole = std::str::from_utf8(data).is_ok();
        for i in 0..=data.len() {
            for j in i..=data.len() {
                let mut s = Utf8Stream::default();
                let ok = s.push(&data[..i]).is_ok()
                    && s.push(&data[i..j]).is_ok()
                    && s.push(&data[j..]).is_ok()
                    && s.is_complete();
                assert_eq!(ok, whole, "{data:?} cut at {i}, {j}");
            }
        }
    }

    #[test]
    fn pieces_agree_with_the_whole() {
        for s in [
            "".as_bytes(),
            b"hello",
            "κόσμε".as_bytes(),
            "a€b𝄞c".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xed\xa0\x80",
            b"\xc0\xaf",
            b"\xe2\x82",
            b"ab\xf0\x9d\x84",
            b"\xff",
            b"\x80abc",
        ] {
            agrees(s);
        }
    }

    #[test]
    fn a_bad_byte_fails_at_once() {
        let mut s = Utf8Stream::default();
        assert_eq!(s.push(b"\xce\xba\xe1"), Ok(()));
        assert!(!s.is_complete());
        assert_eq!(s.push(b"\xbd\xb9\xff"), Err(InvalidUtf8));
        let mut s = Utf8Stream::default();
        assert_eq!(s.push(b"\xed"), Ok(()));
        // A surrogate half is refused on its second byte.
        assert_eq!(s.push(b"\xa0"), Err(InvalidUtf8));
    }
}
