//! Pinned messages (per room) and who may pin (`room_settings.pin_policy`). Pins are written
//! straight to SQL: they are rare, and not part of a room's seq order.

use entities::{pin, room_setting};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};

use super::{Store, StoreError};
use chat_protocol::ids::{MessageId, RoomId, UserId};

/// Most messages pinned in one room at a time.
pub const MAX_PINS: u64 = 50;

/// Who pins messages in a room: the API's type, which the store reads and writes.
pub use chat_protocol::api::curation::PinPolicy;

/// The policy `room_settings.pin_policy` holds: `members` when never set, and `admins` (the
/// stricter) for a value the server never writes, so a damaged row does not let every member
/// pin.
fn policy_from_stored(stored: Option<&str>) -> PinPolicy {
    match stored {
        None => PinPolicy::Members,
        Some(s) => PinPolicy::parse(s).unwrap_or_else(|| {
            tracing::error!(stored = s, "unknown pin policy; only admins pin");
            PinPolicy::Admins
        }),
    }
}

/// Whether a pin changed anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinOutcome {
    Changed,
    Unchanged,
    /// The room already has [`MAX_PINS`] pinned messages.
    Full,
}

impl Store {
    /// The room's pin policy (`members` when never set).
    pub async fn pin_policy(&self, room: &RoomId) -> Result<PinPolicy, StoreError> {
        let stored = room_setting::Entity::find_by_id(room.0.clone())
            .one(&self.db)
            .await?
            .map(|r| r.pin_policy);
        Ok(policy_from_stored(stored.as_deref()))
    }

    pub async fn set_pin_policy(&self, room: &RoomId, policy: PinPolicy) -> Result<(), StoreError> {
        room_setting::Entity::insert(room_setting::ActiveModel {
            room_id: Set(room.0.clone()),
            pin_policy: Set(policy.as_str().to_owned()),
        })
        .on_conflict(
            OnConflict::column(room_setting::Column::RoomId)
                .update_column(room_setting::Column::PinPolicy)
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// Pins (`on`) or unpins message `id` of `room`.
    pub async fn set_pin(
        &self,
        room: &RoomId,
        id: &MessageId,
        by: &UserId,
        on: bool,
        at: i64,
    ) -> Result<PinOutcome, StoreError> {
        let key = (room.0.clone(), id.0.clone());
        let exists = pin::Entity::find_by_id(key.clone())
            .one(&self.db)
            .await?
            .is_some();
        if exists == on {
            return Ok(PinOutcome::Unchanged);
        }
        if !on {
            pin::Entity::delete_by_id(key).exec(&self.db).await?;
            return Ok(PinOutcome::Changed);
        }
        let pinned = pin::Entity::find()
            .filter(pin::Column::RoomId.eq(room.0.clone()))
            .count(&self.db)
            .await?;
        if pinned >= MAX_PINS {
            return Ok(PinOutcome::Full);
        }
        pin::Entity::insert(pin::ActiveModel {
            room_id: Set(room.0.clone()),
            message_id: Set(id.0.clone()),
            pinned_by: Set(by.0.clone()),
            at: Set(at),
        })
        .on_conflict(
            OnConflict::columns([pin::Column::RoomId, pin::Column::MessageId])
                .do_nothing_on([pin::Column::RoomId])
                .to_owned(),
        )
        .do_nothing()
        .exec_without_returning(&self.db)
        .await?;
        Ok(PinOutcome::Changed)
    }

    /// The room's pins, newest first.
    pub async fn pins(&self, room: &RoomId) -> Result<Vec<pin::Model>, StoreError> {
        Ok(pin::Entity::find()
            .filter(pin::Column::RoomId.eq(room.0.clone()))
            .order_by_desc(pin::Column::At)
            .all(&self.db)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before issue 20 an unknown stored value counted as `members`: every member could pin.
    #[test]
    fn an_unknown_stored_pin_policy_fails_closed() {
        assert_eq!(policy_from_stored(None), PinPolicy::Members);
        for p in [PinPolicy::Members, PinPolicy::Admins] {
            assert_eq!(policy_from_stored(Some(p.as_str())), p);
        }
        assert_eq!(policy_from_stored(Some("everyone")), PinPolicy::Admins);
    }
}
