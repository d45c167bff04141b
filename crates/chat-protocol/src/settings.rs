//! A user's settings document: stored server-side as JSON, changed by merging a partial document
//! (`PATCH /api/me/settings`), and sent to every device of the user as a `settings` frame.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::RoomId;

/// Colour themes the clients offer.
pub const THEMES: [&str; 5] = ["light", "dark", "ocean", "forest", "high_contrast"];

/// Everything a user can set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserSettings {
    pub chat: ChatSettings,
    pub notifications: NotificationSettings,
    pub privacy: PrivacySettings,
}

/// Who may add me to groups (`privacy.group_adds`).
pub const GROUP_ADDS: [&str; 3] = ["everyone", "contacts", "nobody"];

/// The decision `privacy.group_adds` stands for. The document keeps the string (so a bad value
/// in `PATCH /api/me/settings` is answered as before); decisions read this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupAddPolicy {
    Everyone,
    /// People in my contacts.
    Contacts,
    Nobody,
}

impl GroupAddPolicy {
    /// The string in the settings document.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupAddPolicy::Everyone => "everyone",
            GroupAddPolicy::Contacts => "contacts",
            GroupAddPolicy::Nobody => "nobody",
        }
    }

    /// The policy a settings string names; `None` for any other string.
    pub fn parse(s: &str) -> Option<GroupAddPolicy> {
        [
            GroupAddPolicy::Everyone,
            GroupAddPolicy::Contacts,
            GroupAddPolicy::Nobody,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }
}

/// `privacy`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// Who may add me to a group: `everyone`, `contacts` (people in my contacts) or `nobody`
    /// (I can still create groups and be added to none). Nobody I blocked, or who blocked me,
    /// may add me whatever this says.
    pub group_adds: String,
}

impl PrivacySettings {
    /// Who may add me to groups. A string that is none of [`GROUP_ADDS`] (a validated document
    /// never holds one) lets nobody add me: the decision fails closed.
    pub fn who_may_add(&self) -> GroupAddPolicy {
        GroupAddPolicy::parse(&self.group_adds).unwrap_or(GroupAddPolicy::Nobody)
    }
}

impl Default for PrivacySettings {
    fn default() -> Self {
        Self {
            group_adds: "everyone".into(),
        }
    }
}

/// `chat`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatSettings {
    /// Enter sends (otherwise Ctrl+Enter).
    pub enter_to_send: bool,
    /// Others get `receipt` {kind read} when I read; off keeps my unread counts working.
    pub read_receipts: bool,
    /// Others see when I am typing.
    pub show_typing: bool,
    /// One of `THEMES`.
    pub theme: String,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            enter_to_send: true,
            read_receipts: true,
            show_typing: true,
            theme: "light".into(),
        }
    }
}

/// `notifications`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    /// Push notifications at all.
    pub push: bool,
    /// Show the message text in notifications (otherwise a generic text).
    pub preview: bool,
    /// Play a sound.
    pub sound: bool,
    /// Muted rooms: room id → muted until (ms since the epoch), or `null` for ever.
    pub muted: BTreeMap<RoomId, Option<i64>>,
    /// No notifications between these local times.
    pub quiet_hours: Option<QuietHours>,
    /// A message that mentions me (`@username`) pushes even in a muted conversation.
    pub mentions: bool,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            push: true,
            preview: true,
            sound: true,
            muted: BTreeMap::new(),
            quiet_hours: None,
            mentions: true,
        }
    }
}

/// Quiet hours, as `HH:MM` local times and the user's offset from UTC in minutes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub utc_offset_minutes: i32,
}

/// A settings change that cannot be accepted; names the field.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct SettingsError {
    pub field: String,
    pub problem: String,
}

fn bad(field: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        field: field.into(),
        problem: problem.into(),
    }
}

fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && hhmm.len() == 5).then_some(h * 60 + m)
}

impl UserSettings {
    /// The document as stored (`user_settings.settings`); none at all is the defaults. One that
    /// no longer parses (another version wrote it, or it is damaged) is an error rather than the
    /// defaults, which let everyone add the user to groups and put message text in pushes: the
    /// caller falls back to [`UserSettings::most_private`].
    pub fn from_stored(json: Option<&str>) -> Result<UserSettings, serde_json::Error> {
        json.map_or_else(|| Ok(UserSettings::default()), serde_json::from_str)
    }

    /// What a document that cannot be read counts as: the defaults, except that every setting
    /// that keeps something from others takes its private value (nobody adds me to groups, no
    /// message text in pushes, no read receipts, no typing shown). The user sees these in their
    /// settings and can change them.
    pub fn most_private() -> UserSettings {
        let mut s = UserSettings::default();
        s.privacy.group_adds = GroupAddPolicy::Nobody.as_str().into();
        s.notifications.preview = false;
        s.chat.read_receipts = false;
        s.chat.show_typing = false;
        s
    }

    /// Applies a partial document (objects merge key by key; `null` in `muted` means for ever)
    /// and validates the result.
    pub fn merged(&self, patch: &Value) -> Result<UserSettings, SettingsError> {
        if !patch.is_object() {
            return Err(bad("settings", "must be an object"));
        }
        let mut doc = serde_json::to_value(self).map_err(|e| bad("settings", e.to_string()))?;
        merge(&mut doc, patch, "");
        let next: UserSettings = serde_json::from_value(doc).map_err(|e| {
            let msg = e.to_string();
            let field = msg.split('`').nth(1).unwrap_or("settings").to_owned();
            bad(&field, msg)
        })?;
        next.validate()?;
        Ok(next)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if !THEMES.contains(&self.chat.theme.as_str()) {
            return Err(bad(
                "chat.theme",
                format!("must be one of {}", THEMES.join(", ")),
            ));
        }
        if GroupAddPolicy::parse(&self.privacy.group_adds).is_none() {
            return Err(bad(
                "privacy.group_adds",
                format!("must be one of {}", GROUP_ADDS.join(", ")),
            ));
        }
        if self.notifications.muted.len() > 10_000 {
            return Err(bad("notifications.muted", "too many rooms"));
        }
        if let Some(q) = &self.notifications.quiet_hours {
            if minutes(&q.start).is_none() {
                return Err(bad("notifications.quiet_hours.start", "must be HH:MM"));
            }
            if minutes(&q.end).is_none() {
                return Err(bad("notifications.quiet_hours.end", "must be HH:MM"));
            }
            if q.utc_offset_minutes.abs() > 14 * 60 {
                return Err(bad(
                    "notifications.quiet_hours.utc_offset_minutes",
                    "must be within ±840",
                ));
            }
        }
        Ok(())
    }

    /// Whether `room` is muted at `now_ms`.
    pub fn is_muted(&self, room: &RoomId, now_ms: i64) -> bool {
        match self.notifications.muted.get(room) {
            Some(None) => true,
            Some(Some(until)) => *until > now_ms,
            None => false,
        }
    }

    /// Whether `now_ms` falls in the quiet hours.
    pub fn in_quiet_hours(&self, now_ms: i64) -> bool {
        let Some(q) = &self.notifications.quiet_hours else {
            return false;
        };
        let (Some(start), Some(end)) = (minutes(&q.start), minutes(&q.end)) else {
            return false;
        };
        let local = (now_ms / 60_000 + i64::from(q.utc_offset_minutes)).rem_euclid(24 * 60) as u32;
        if start <= end {
            (start..end).contains(&local)
        } else {
            local >= start || local < end
        }
    }
}

/// Merges `patch` into `doc`: objects key by key, anything else replaces. Inside `muted`, `null`
/// means "for ever" and `false` unmutes; elsewhere `null` leaves the key as it is, except that
/// `quiet_hours: null` turns quiet hours off.
fn merge(doc: &mut Value, patch: &Value, path: &str) {
    match (doc, patch) {
        (Value::Object(d), Value::Object(p)) => {
            for (k, v) in p {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if path.ends_with("muted") && v == &Value::Bool(false) {
                    d.remove(k);
                    continue;
                }
                if v.is_null() && here != "notifications.quiet_hours" && !path.ends_with("muted") {
                    continue;
                }
                if v.is_null() && here == "notifications.quiet_hours" {
                    d.insert(k.clone(), Value::Null);
                    continue;
                }
                match d.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v, &here),
                    _ => {
                        d.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (d, p) => *d = p.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn group_adds_strings_round_trip_and_others_let_nobody_add() {
        for s in GROUP_ADDS {
            assert_eq!(GroupAddPolicy::parse(s).unwrap().as_str(), s);
        }
        let mut p = PrivacySettings::default();
        assert_eq!(p.who_may_add(), GroupAddPolicy::Everyone);
        for odd in ["", "Everyone", "friends"] {
            p.group_adds = odd.into();
            assert_eq!(p.who_may_add(), GroupAddPolicy::Nobody, "{odd:?}");
        }
    }

    #[test]
    fn an_unreadable_stored_document_is_an_error_not_the_defaults() {
        assert_eq!(
            UserSettings::from_stored(None).unwrap(),
            UserSettings::default()
        );
        let saved = r#"{"privacy": {"group_adds": "nobody"}}"#;
        let doc = UserSettings::from_stored(Some(saved)).unwrap();
        assert_eq!(doc.privacy.who_may_add(), GroupAddPolicy::Nobody);
        // A field this version does not know, and a damaged document.
        for bad in [r#"{"privacy": {"group_adds": "nobody", "new": 1}}"#, "{"] {
            assert!(UserSettings::from_stored(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_fallback_keeps_everything_private() {
        let s = UserSettings::most_private();
        assert_eq!(s.privacy.who_may_add(), GroupAddPolicy::Nobody);
        assert!(!s.notifications.preview);
        assert!(!s.chat.read_receipts);
        assert!(!s.chat.show_typing);
        assert!(s.validate().is_ok());
    }
}
