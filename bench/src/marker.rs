//! Latency markers carried in message bodies: `~M<step>:<n>:<sent µs>~` followed by padding.
//! The digits and punctuation survive JSON encoding unescaped, so receivers find the marker in
//! the raw frame text without parsing the frame.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch (one clock for every generator process on the machine).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A message body of about `len` bytes carrying message `n` of `step`, sent at `sent_us`.
pub fn body(step: u32, n: u64, sent_us: u64, len: usize) -> String {
    let mut s = format!("~M{step}:{n}:{sent_us}~ ");
    const FILL: &str = "the quick brown fox jumps over the lazy dog ";
    while s.len() < len {
        let take = (len - s.len()).min(FILL.len());
        s.push_str(&FILL[..take]);
    }
    s
}

/// The (step, n, sent µs) of the marker in `text`, if there is one.
pub fn parse(text: &str) -> Option<(u32, u64, u64)> {
    let start = text.find("~M")? + 2;
    let rest = &text[start..];
    let end = rest.find('~')?;
    let mut parts = rest[..end].split(':');
    let step = parts.next()?.parse().ok()?;
    let n = parts.next()?.parse().ok()?;
    let sent = parts.next()?.parse().ok()?;
    Some((step, n, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let b = body(3, 42, 1_700_000_000_000_000, 80);
        assert_eq!(b.len(), 80);
        assert_eq!(parse(&b), Some((3, 42, 1_700_000_000_000_000)));
        let framed = format!(
            "42[\"message\",{{\"body\":{}}}]",
            serde_json::to_string(&b).unwrap_or_default()
        );
        assert_eq!(parse(&framed), Some((3, 42, 1_700_000_000_000_000)));
        assert_eq!(parse("no marker"), None);
    }
}
