//! What a reaction may be: exactly one emoji.

/// Longest reaction accepted, in bytes (the longest emoji sequences, families and flags of
/// subdivisions, are under 40).
pub const MAX_EMOJI_BYTES: usize = 64;

/// Whether `s` is exactly one emoji of Unicode's list (with or without variation selector, skin
/// tones included), and nothing else.
pub fn is_one_emoji(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_EMOJI_BYTES {
        return false;
    }
    emojis::get(s).is_some() || emojis::get(s.trim_end_matches('\u{fe0f}')).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_emoji_is_accepted() {
        for e in ["👍", "❤️", "❤", "👍🏽", "🇫🇷", "👨‍👩‍👧", "😂"] {
            assert!(is_one_emoji(e), "{e}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for e in ["", "a", "👍👍", "👍 ", ":+1:", "<b>", &"😂".repeat(300)] {
            assert!(!is_one_emoji(e), "{e}");
        }
    }
}
