//! `@username` mentions in message bodies.

/// Most distinct names looked up per message; further ones are not mentions (a body naming
/// thousands of people costs one bounded lookup).
pub const MAX_NAMED: usize = 50;

/// The distinct usernames (lower-cased) a body names as `@username`, in order of appearance, at
/// most [`MAX_NAMED`]. An `@` counts only at the start or after a character that cannot be part
/// of a name (so `ann@example.com` names nobody); a name is 3 to 32 of `a-z 0-9 _ . -` (the
/// username rules), without trailing `.` or `-` (sentence punctuation).
pub fn named(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in body.char_indices() {
        let at_start = prev.is_none_or(|p| !is_name_char(p) && p != '@');
        prev = Some(c);
        if c != '@' || !at_start {
            continue;
        }
        let rest = &body[i + 1..];
        let len = rest
            .char_indices()
            .find(|(_, c)| !is_name_char(*c))
            .map_or(rest.len(), |(j, _)| j);
        let name = rest[..len]
            .trim_end_matches(['.', '-'])
            .to_ascii_lowercase();
        let ok_start = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if ok_start && (3..=32).contains(&name.len()) && !out.contains(&name) {
            out.push(name);
            if out.len() >= MAX_NAMED {
                break;
            }
        }
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_.-".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_after_at_signs() {
        assert_eq!(named("hi @Bob and @carol."), vec!["bob", "carol"]);
        assert_eq!(named("@bob @bob @BOB"), vec!["bob"]);
        assert_eq!(
            named("(@dave) @e @toolong_name_that_is_more_than_32_chars"),
            vec!["dave"]
        );
    }

    #[test]
    fn emails_and_bare_at_signs_are_not_mentions() {
        assert!(named("write to ann@example.com or @ alone, @@bob").is_empty());
        assert!(named("").is_empty());
    }

    #[test]
    fn many_names_are_capped() {
        let body: String = (0..10_000).map(|i| format!("@user{i} ")).collect();
        assert_eq!(named(&body).len(), MAX_NAMED);
    }
}
