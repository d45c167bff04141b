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

/// `privacy`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// Who may add me to a group: `everyone`, `contacts` (people in my contacts) or `nobody`
    /// (I can still create groups and be added to none). Nobody I blocked, or who blocked me,
    /// may add me whatever this says.
    pub group_adds: String,
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
    /// The document as stored (`user_settings.settings`); one that no longer parses counts as
    /// the defaults, as does none at all.
    pub fn from_stored(json: Option<&str>) -> UserSettings {
        json.and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
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
        if !GROUP_ADDS.contains(&self.privacy.group_adds.as_str()) {
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
