//! Signed media URLs and safe download names.
//!
//! A media URL is `/media/{id}/{variant}?exp=UNIX_SECONDS&sig=HMAC`, where the HMAC-SHA256 (key
//! `media.url_secret`) covers id, variant and expiry. The server hands such URLs only to people
//! allowed to see the item (its uploader, members of rooms it was sent to), so the URL works in an
//! `<img>` or `<video>` tag without a bearer token in it, and stops working after it expires.
//! Expiries are rounded up to a multiple of `url_ttl_secs`, so the same URL is handed out for a
//! while and browsers can cache it.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Which file of a media item a URL points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The processed content (or the stored file).
    Content,
    /// The thumbnail, poster or small avatar.
    Thumb,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Content => "content",
            Self::Thumb => "thumb",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "content" => Some(Self::Content),
            "thumb" => Some(Self::Thumb),
            _ => None,
        }
    }
}

/// Signs and checks media URLs; cheap to clone.
#[derive(Clone)]
pub struct UrlSigner {
    key: Arc<[u8]>,
    ttl_secs: u64,
}

impl fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlSigner")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl UrlSigner {
    /// A signer with `secret` as key, or a random key when `secret` is empty.
    pub fn new(secret: &str, ttl_secs: u64) -> Self {
        let key: Arc<[u8]> = if secret.is_empty() {
            let mut k = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut k);
            Arc::from(&k[..])
        } else {
            Arc::from(secret.as_bytes())
        };
        Self {
            key,
            ttl_secs: ttl_secs.max(1),
        }
    }

    fn mac(&self, id: &str, variant: Variant, exp: u64) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).ok()?;
        mac.update(format!("{id}/{}/{exp}", variant.as_str()).as_bytes());
        Some(mac)
    }

    /// The URL of `variant` of media `id`, valid from now until at least `url_ttl_secs` later.
    pub fn url(&self, id: &str, variant: Variant, now_secs: u64) -> String {
        let exp = (now_secs / self.ttl_secs + 2) * self.ttl_secs;
        let sig = self
            .mac(id, variant, exp)
            .map(|m| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
            })
            .unwrap_or_default();
        format!("/media/{id}/{}?exp={exp}&sig={sig}", variant.as_str())
    }

    /// Whether `sig` is this server's signature of (id, variant, exp) and `exp` has not passed.
    /// The comparison takes the same time wherever the signatures differ.
    pub fn verify(&self, id: &str, variant: Variant, exp: u64, sig: &str, now_secs: u64) -> bool {
        if exp < now_secs {
            return false;
        }
        let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        self.mac(id, variant, exp)
            .is_some_and(|m| m.verify_slice(&raw).is_ok())
    }
}

/// A client's file name reduced to something safe to keep and to offer back in a
/// `Content-Disposition` header: the last path component, printable characters only, no quotes
/// or separators, at most 100 characters. `None` if nothing usable is left.
pub fn sanitize_file_name(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if matches!(
                c,
                '"' | '\'' | ';' | ':' | '*' | '?' | '<' | '>' | '|' | '%'
            ) {
                '_'
            } else {
                c
            }
        })
        .take(100)
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_urls_verify_and_expire() {
        let s = UrlSigner::new("k", 3600);
        let url = s.url("abc", Variant::Thumb, 10_000);
        let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let mut exp = 0;
        let mut sig = "";
        for kv in q.split('&') {
            match kv.split_once('=') {
                Some(("exp", v)) => exp = v.parse().unwrap_or(0),
                Some(("sig", v)) => sig = v,
                _ => {}
            }
        }
        assert!(exp >= 10_000 + 3600);
        assert!(s.verify("abc", Variant::Thumb, exp, sig, 10_000));
        assert!(!s.verify("abc", Variant::Content, exp, sig, 10_000));
        assert!(!s.verify("abd", Variant::Thumb, exp, sig, 10_000));
        assert!(!s.verify("abc", Variant::Thumb, exp, sig, exp + 1));
        assert!(!UrlSigner::new("other", 3600).verify("abc", Variant::Thumb, exp, sig, 10_000));
    }

    #[test]
    fn file_names_lose_paths_and_quotes() {
        assert_eq!(
            sanitize_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            sanitize_file_name("C:\\x\\a\"b;.pdf").as_deref(),
            Some("a_b_.pdf")
        );
        assert_eq!(
            sanitize_file_name("line\r\nbreak.txt").as_deref(),
            Some("linebreak.txt")
        );
        assert_eq!(sanitize_file_name("..").as_deref(), None);
        assert_eq!(sanitize_file_name("").as_deref(), None);
    }
}
