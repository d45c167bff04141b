//! Normalising and checking what people type: phone numbers (to E.164), e-mail addresses, names.

use crate::error::ChatError;

/// A phone number in E.164 (`+14155550123`). Numbers without a country code are read in
/// `default_region` (ISO 3166, e.g. `US`).
pub fn normalize_phone(raw: &str, default_region: &str) -> Option<String> {
    let region = default_region.parse::<phonenumber::country::Id>().ok();
    let trimmed = raw.trim();
    // "00" is the international prefix in most of the world; the library wants "+".
    let candidate = match trimmed.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => trimmed.to_owned(),
    };
    let number = phonenumber::parse(region, &candidate).ok()?;
    if !phonenumber::is_valid(&number) {
        return None;
    }
    Some(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// A lower-cased e-mail address with one `@`, a dot in the domain and no spaces.
pub fn normalize_email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(e)
}

/// A trimmed text of `min..=max` characters without control characters, or an error naming
/// `field`.
pub fn text(field: &str, raw: &str, min: usize, max: usize) -> Result<String, ChatError> {
    let t = raw.trim();
    let n = t.chars().count();
    if n < min || n > max {
        return Err(ChatError::invalid(format!(
            "{field}: {min} to {max} characters"
        )));
    }
    if t.chars().any(|c| c.is_control()) {
        return Err(ChatError::invalid(format!(
            "{field}: no control characters"
        )));
    }
    Ok(t.to_owned())
}

/// A display name as every way of setting one checks it (registration, `PATCH /api/me`): 1 to
/// 100 characters once trimmed, no control characters (a newline in a name would let it pose as
/// another line of a text or notification).
pub fn display_name(raw: &str) -> Result<String, ChatError> {
    text("display_name", raw, 1, 100)
}

/// Usernames: 3 to 32 of `a-z 0-9 _ . -`, starting with a letter or digit; case-folded.
pub fn username(raw: &str) -> Result<String, ChatError> {
    let name = raw.trim().to_lowercase();
    let ok_len = (3..=32).contains(&name.chars().count());
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
    let ok_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_start {
        Ok(name)
    } else {
        Err(ChatError::invalid(
            "username: 3 to 32 characters of a-z, 0-9, _ . -, starting with a letter or digit",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_in_many_spellings_normalise_to_one() {
        for raw in [
            "+1 (415) 555-2671",
            "415.555.2671",
            "(415) 555 2671",
            "001 415 555 2671",
            "+14155552671",
        ] {
            assert_eq!(
                normalize_phone(raw, "US").as_deref(),
                Some("+14155552671"),
                "{raw}"
            );
        }
        assert_eq!(
            normalize_phone("030 1234567", "DE").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(
            normalize_phone("+49 30 1234567", "US").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(normalize_phone("12", "US"), None);
        assert_eq!(normalize_phone("call me", "US"), None);
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").as_deref(),
            Some("ann@example.com")
        );
        for bad in [
            "ann",
            "ann@",
            "@x.org",
            "a b@x.org",
            "ann@localhost",
            "a@b@c.org",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn usernames_are_case_folded_and_checked() {
        assert_eq!(username("  Ann.Lee_1 ").ok().as_deref(), Some("ann.lee_1"));
        for bad in ["ab", "_ann", "ann lee", "änn", &"a".repeat(33)] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }
}
